#include "frontend/static_files.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <optional>
#include <stdexcept>

namespace webim {

namespace {
constexpr uintmax_t kMaxStaticFileBytes = 4 << 20;  // the demo page's files are small

// A static file's bytes: a regular file (a symbolic link swapped in since the directory was listed
// is not followed: O_NOFOLLOW) of at most kMaxStaticFileBytes; nullopt otherwise.
std::optional<std::string> readStaticFile(const std::filesystem::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  struct stat info {};
  std::optional<std::string> body;
  if (::fstat(fd, &info) == 0 && S_ISREG(info.st_mode) && static_cast<uintmax_t>(info.st_size) <= kMaxStaticFileBytes) {
    body.emplace();
    char buffer[64 * 1024];
    for (;;) {
      ssize_t n = ::read(fd, buffer, sizeof(buffer));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 || body->size() + static_cast<size_t>(std::max<ssize_t>(n, 0)) > kMaxStaticFileBytes) {
        body.reset();
        break;
      }
      if (n == 0) break;
      body->append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return body;
}

std::string contentTypeFor(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  if (ext == ".html") return "text/html; charset=utf-8";
  if (ext == ".js" || ext == ".mjs") return "text/javascript; charset=utf-8";
  if (ext == ".css") return "text/css; charset=utf-8";
  if (ext == ".json") return "application/json";
  if (ext == ".svg") return "image/svg+xml";
  if (ext == ".png") return "image/png";
  if (ext == ".ico") return "image/x-icon";
  if (ext == ".txt" || ext == ".md") return "text/plain; charset=utf-8";
  return "application/octet-stream";
}
}  // namespace

void StaticFiles::load(const std::vector<std::string>& mounts) {
  namespace fs = std::filesystem;
  for (const std::string& mount : mounts) {
    std::string prefix = "/";
    std::string dir = mount;
    if (size_t eq = mount.find('='); !mount.empty() && mount[0] == '/' && eq != std::string::npos) {
      prefix = mount.substr(0, eq);
      dir = mount.substr(eq + 1);
      if (prefix.back() != '/') prefix.push_back('/');
    }
    fs::path root(dir);
    if (!fs::is_directory(root)) throw std::runtime_error("--static-dir '" + dir + "' is not a directory");
    size_t count = 0, skipped = 0;
    // Only regular files inside the directory, each at its own relative path. Symbolic links are
    // never followed, wherever they point (the iterator does not descend into linked directories,
    // and a linked file is skipped): nothing outside the tree can be served, and no file gets a
    // second URL. The directory given may itself be a link.
    for (const fs::directory_entry& entry : fs::recursive_directory_iterator(root)) {
      if (entry.is_symlink()) {
        ++skipped;
        continue;
      }
      if (!entry.is_regular_file()) continue;
      const fs::path relative = entry.path().lexically_relative(root);
      if (relative.empty() || *relative.begin() == "..") continue;  // cannot happen: never outside
      std::optional<std::string> body = readStaticFile(entry.path());
      if (!body) {
        ++skipped;
        continue;
      }
      files_[prefix + relative.generic_string()] = StaticFile{contentTypeFor(entry.path()), std::move(*body)};
      ++count;
    }
    spdlog::info("serving {} static files from {} at {}{}", count, dir, prefix,
                 skipped ? fmt::format(" (skipped {}: symbolic links, files over 4 MiB or unreadable)", skipped)
                         : std::string());
  }
}

const StaticFile* StaticFiles::find(std::string_view path) const {
  if (!path.empty() && path.back() == '/') {
    auto index = files_.find(std::string(path) + "index.html");
    return index == files_.end() ? nullptr : &index->second;
  }
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace webim
