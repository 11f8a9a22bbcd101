// libjpeg reports errors through a callback that must not return: it jumps back to decode() with
// longjmp, which then destroys the decompressor and throws from plain C++ code (an exception must not
// cross libjpeg's C frames).
#include "jpeg_decoder.hpp"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
// clang-format on

#include <algorithm>
#include <atomic>
#include <cmath>
#include <csetjmp>
#include <cstring>
#include <fstream>
#include <iterator>

#include "bioprop/data.hpp"
#include "bioprop/error.hpp"

namespace bioprop {
namespace {

struct ErrorManager {
  jpeg_error_mgr base;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

[[noreturn]] void jump_back(j_common_ptr info) {
  auto* errors = reinterpret_cast<ErrorManager*>(info->err);
  (*info->err->format_message)(info, errors->message);
  std::longjmp(errors->jump, 1);
}

void ignore_warning(j_common_ptr, int) {}

// Decodes `data` into `out`; false with `message` set when libjpeg gives up.
bool decode(const std::vector<unsigned char>& data, RgbImage& out, char* message) {
  const size_t pixel_limit = max_image_pixels();
  jpeg_decompress_struct info;
  ErrorManager errors;
  info.err = jpeg_std_error(&errors.base);
  errors.base.error_exit = jump_back;
  errors.base.emit_message = ignore_warning;
  if (setjmp(errors.jump)) {
    jpeg_destroy_decompress(&info);
    std::memcpy(message, errors.message, JMSG_LENGTH_MAX);
    return false;
  }
  jpeg_create_decompress(&info);
  jpeg_mem_src(&info, data.data(), static_cast<unsigned long>(data.size()));
  jpeg_read_header(&info, TRUE);
  // The header's size is a claim: checked before the pixels are allocated (a 139-byte file can claim
  // 63996 x 8193 pixels, 1.5 GB).
  if (static_cast<size_t>(info.image_width) * info.image_height > pixel_limit) {
    std::snprintf(message, JMSG_LENGTH_MAX, "its header claims %u x %u pixels, more than --max-image-pixels %zu",
                  info.image_width, info.image_height, pixel_limit);
    jpeg_destroy_decompress(&info);
    return false;
  }
  info.out_color_space = JCS_RGB;  // grey and YCbCr alike
  jpeg_start_decompress(&info);
  out.height = static_cast<int>(info.output_height);
  out.width = static_cast<int>(info.output_width);
  out.pixels.resize(static_cast<size_t>(out.height) * static_cast<size_t>(out.width) * 3);
  while (info.output_scanline < info.output_height) {
    JSAMPROW row = out.pixels.data() + static_cast<size_t>(info.output_scanline) * static_cast<size_t>(out.width) * 3;
    jpeg_read_scanlines(&info, &row, 1);
  }
  jpeg_finish_decompress(&info);
  jpeg_destroy_decompress(&info);
  return true;
}

}  // namespace

namespace {
std::atomic<size_t> pixel_limit{default_max_image_pixels};
}  // namespace

void set_max_image_pixels(size_t pixels) { pixel_limit = pixels; }
size_t max_image_pixels() { return pixel_limit; }

RgbImage decode_jpeg_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) fail("cannot open image file {}", path);
  const std::vector<unsigned char> data((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  RgbImage image;
  char message[JMSG_LENGTH_MAX] = {};
  if (!decode(data, image, message)) fail("{}: not a readable JPEG image ({})", path, message);
  return image;
}

void decode_jpeg_chw(const std::string& path, int height, int width, float* out) {
  const RgbImage image = resize_bilinear(decode_jpeg_file(path), height, width);
  const size_t plane = static_cast<size_t>(height) * static_cast<size_t>(width);
  for (size_t p = 0; p < plane; ++p)
    for (size_t c = 0; c < 3; ++c) out[c * plane + p] = image.pixels[p * 3 + c] / 255.0f;
}

void decode_jpeg_files(const std::vector<std::string>& paths, int height, int width, float* images) {
  const size_t sample = 3 * static_cast<size_t>(height) * static_cast<size_t>(width);
  std::string first_error;
#pragma omp parallel for schedule(dynamic, 16)
  for (size_t i = 0; i < paths.size(); ++i) {
    try {
      decode_jpeg_chw(paths[i], height, width, images + i * sample);
    } catch (const Error& e) {
#pragma omp critical
      if (first_error.empty()) first_error = e.what();
    }
  }
  if (!first_error.empty()) fail("{}", first_error);
}

RgbImage resize_bilinear(const RgbImage& image, int height, int width) {
  if (image.height == height && image.width == width) return image;
  RgbImage out{height, width, std::vector<unsigned char>(static_cast<size_t>(height) * width * 3)};
  const float sy = static_cast<float>(image.height) / static_cast<float>(height);
  const float sx = static_cast<float>(image.width) / static_cast<float>(width);
  auto at = [&](int y, int x, int c) {
    return static_cast<float>(image.pixels[(static_cast<size_t>(y) * image.width + x) * 3 + c]);
  };
  for (int y = 0; y < height; ++y) {
    const float fy = std::clamp((static_cast<float>(y) + 0.5f) * sy - 0.5f, 0.0f, static_cast<float>(image.height - 1));
    const int y0 = static_cast<int>(fy), y1 = std::min(y0 + 1, image.height - 1);
    const float wy = fy - static_cast<float>(y0);
    for (int x = 0; x < width; ++x) {
      const float fx =
          std::clamp((static_cast<float>(x) + 0.5f) * sx - 0.5f, 0.0f, static_cast<float>(image.width - 1));
      const int x0 = static_cast<int>(fx), x1 = std::min(x0 + 1, image.width - 1);
      const float wx = fx - static_cast<float>(x0);
      for (int c = 0; c < 3; ++c) {
        const float top = at(y0, x0, c) * (1 - wx) + at(y0, x1, c) * wx;
        const float bottom = at(y1, x0, c) * (1 - wx) + at(y1, x1, c) * wx;
        out.pixels[(static_cast<size_t>(y) * width + x) * 3 + c] =
            static_cast<unsigned char>(std::lround(top * (1 - wy) + bottom * wy));
      }
    }
  }
  return out;
}

}  // namespace bioprop
