// The files served at GET (the demo page, the JS client): read once at start from the --static-dir
// mounts and kept in memory, so serving one is a lookup, never disk I/O on the loop.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace webim {

struct StaticFile {
  std::string contentType;
  std::string body;
};

class StaticFiles {
 public:
  // Reads every regular file under each mount ("DIR", or "/prefix/=DIR"). Throws std::runtime_error
  // for a mount that is not a directory.
  void load(const std::vector<std::string>& mounts);
  // The file at `path`; a path ending in '/' is its index.html. nullptr when there is none.
  const StaticFile* find(std::string_view path) const;

 private:
  std::map<std::string, StaticFile, std::less<>> files_;
};

}  // namespace webim
