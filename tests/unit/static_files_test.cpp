#include "frontend/static_files.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

using namespace webim;
namespace fs = std::filesystem;

namespace {

// A scratch directory tree, removed afterwards.
struct Tree {
  fs::path root = fs::temp_directory_path() / ("webim-static-" + std::to_string(::getpid()));
  Tree() {
    fs::remove_all(root);
    fs::create_directories(root / "site" / "js");
    write("site/index.html", "<h1>hi</h1>");
    write("site/js/client.mjs", "export {};");
    write("site/notes.weird", "?");
    write("outside.txt", "secret");
    fs::create_symlink(root / "outside.txt", root / "site" / "link.txt");
  }
  ~Tree() { fs::remove_all(root); }
  void write(const std::string& relative, const std::string& body) {
    std::ofstream(root / relative, std::ios::binary) << body;
  }
  std::string site() const { return (root / "site").string(); }
};

}  // namespace

TEST_CASE("static files are served from memory at their relative paths, index.html for a directory", "[static_files]") {
  Tree tree;
  StaticFiles files;
  files.load({tree.site()});
  const StaticFile* index = files.find("/");
  REQUIRE(index != nullptr);
  CHECK(index->body == "<h1>hi</h1>");
  CHECK(index->contentType == "text/html; charset=utf-8");
  REQUIRE(files.find("/js/client.mjs") != nullptr);
  CHECK(files.find("/js/client.mjs")->contentType == "text/javascript; charset=utf-8");
  CHECK(files.find("/notes.weird")->contentType == "application/octet-stream");
  CHECK(files.find("/js/") == nullptr);  // no index.html there
  CHECK(files.find("/missing") == nullptr);
}

TEST_CASE("symbolic links are never followed: nothing outside the tree is served", "[static_files]") {
  Tree tree;
  StaticFiles files;
  files.load({tree.site()});
  CHECK(files.find("/link.txt") == nullptr);
  CHECK(files.find("/../outside.txt") == nullptr);
}

TEST_CASE("a mount may name its URL prefix; a mount that is not a directory is refused", "[static_files]") {
  Tree tree;
  StaticFiles files;
  files.load({"/demo=" + tree.site()});
  CHECK(files.find("/demo/") != nullptr);
  CHECK(files.find("/demo/js/client.mjs") != nullptr);
  CHECK(files.find("/js/client.mjs") == nullptr);
  CHECK_THROWS_AS(files.load({(tree.root / "outside.txt").string()}), std::runtime_error);
}
