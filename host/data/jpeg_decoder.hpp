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

// Bilinear resampling to height x width (pixel centres aligned, as most image libraries do).
RgbImage resize_bilinear(const RgbImage& image, int height, int width);

}  // namespace bioprop
