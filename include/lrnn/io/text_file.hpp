// Small text outputs (config.yaml, metrics.json): written to a temporary file in the same
// directory and renamed over the target, so a reader never sees half a file.
#pragma once

#include <string>

namespace lrnn {

/// Writes `text` to `path` atomically. Throws IoError naming the file on failure.
void write_text_file(const std::string& path, const std::string& text);

}  // namespace lrnn
