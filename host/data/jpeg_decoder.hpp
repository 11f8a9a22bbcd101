#pragma once
// JPEG files to RGB pixels with libjpeg(-turbo), and a bilinear resize for image folders whose
// pictures differ in size.
#include <string>
#include <vector>

namespace bioprop {

struct RgbImage {
  int height = 0, width = 0;
  std::vector<unsigned char> pixels;  // interleaved R, G, B rows
};

// Decodes a JPEG file (colour or grey; grey becomes three equal channels). Throws Error naming the file
// when it is missing or not a readable JPEG.
RgbImage decode_jpeg_file(const std::string& path);

// Decodes `path`, resizes it to height x width and writes it as (3, height, width) values in [0, 1].
void decode_jpeg_chw(const std::string& path, int height, int width, float* out);

// decode_jpeg_chw for every file, on all cores, into consecutive samples of `images`; the first error
// is rethrown.
void decode_jpeg_files(const std::vector<std::string>& paths, int height, int width, float* images);

// Bilinear resampling to height x width (pixel centres aligned, as most image libraries do).
RgbImage resize_bilinear(const RgbImage& image, int height, int width);

}  // namespace bioprop
