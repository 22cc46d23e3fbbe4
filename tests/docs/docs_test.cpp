// docs_test.cpp: the repository stands on its own. The contracts the code cites
// live in docs/design.md, every "docs/design.md §N" a comment or doc cites is a
// section there, and no file points outside the repository (the design brief
// and the style notes that lived beside the repo, or a path of a development
// machine).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;

namespace {

const fs::path kRoot = CRMSYNC_SOURCE_DIR;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Build trees (a CMakeCache.txt marks one), .git and npm's installs are not
// the repository's files.
bool Skipped(const fs::path& dir) {
  const std::string name = dir.filename().string();
  return name == ".git" || name == "node_modules" || fs::exists(dir / "CMakeCache.txt");
}

// The repository's text files: sources, scripts, docs, config.
std::vector<fs::path> TextFiles() {
  static const std::set<std::string> kExtensions = {
      ".h",   ".cpp", ".inc", ".md",  ".txt",        ".cmake", ".in",  ".sh",  ".py",
      ".js",  ".mjs", ".lua", ".json", ".properties", ".service", ".yaml", ".html", ".css"};
  std::vector<fs::path> files;
  for (auto it = fs::recursive_directory_iterator(kRoot); it != fs::recursive_directory_iterator();
       ++it) {
    if (it->is_directory() && Skipped(it->path())) {
      it.disable_recursion_pending();
      continue;
    }
    const fs::path& p = it->path();
    if (it->is_regular_file() &&
        (kExtensions.count(p.extension().string()) > 0 || p.filename() == "run")) {
      files.push_back(p);
    }
  }
  return files;
}

}  // namespace

TEST_SUITE("docs") {
  TEST_CASE("no file of the repository refers to anything outside it") {
    // Spelled in pieces so that this file does not find itself.
    const std::vector<std::string> outside = {std::string("../") + "shared",
                                              std::string("DESIGN") + ".md",
                                              std::string("STYLE") + ".md",
                                              std::string("/work") + "/"};
    std::vector<fs::path> files = TextFiles();
    REQUIRE(files.size() > 100);  // the walk found the tree
    std::vector<std::string> found;
    for (const fs::path& file : files) {
      const std::string text = ReadAll(file);
      for (const std::string& needle : outside) {
        if (text.find(needle) != std::string::npos) {
          found.push_back(fs::relative(file, kRoot).string() + ": " + needle);
        }
      }
    }
    INFO(found.size() << " file(s) point outside the repository");
    for (const std::string& f : found) INFO(f);
    CHECK(found.empty());
    for (const std::string& f : found) MESSAGE(f);
  }

  TEST_CASE("every docs/design.md section the code and docs cite exists") {
    const std::string design = ReadAll(kRoot / "docs" / "design.md");
    REQUIRE_FALSE(design.empty());
    std::set<int> sections;
    std::regex heading(R"(\n## (\d+)\. )");
    for (auto it = std::sregex_iterator(design.begin(), design.end(), heading);
         it != std::sregex_iterator(); ++it) {
      sections.insert(std::stoi((*it)[1]));
    }
    CHECK(sections.size() >= 10);
    std::regex cite(R"(docs/design\.md §(\d+))");
    int citations = 0;
    std::vector<std::string> dangling;
    for (const fs::path& file : TextFiles()) {
      const std::string text = ReadAll(file);
      for (auto it = std::sregex_iterator(text.begin(), text.end(), cite);
           it != std::sregex_iterator(); ++it) {
        ++citations;
        const int n = std::stoi((*it)[1]);
        if (sections.count(n) == 0) {
          dangling.push_back(fs::relative(file, kRoot).string() + " cites §" + std::to_string(n));
        }
      }
    }
    CHECK(citations > 20);
    for (const std::string& d : dangling) MESSAGE(d);
    CHECK(dangling.empty());
  }

  TEST_CASE("docs/design.md holds the contracts the code cites") {
    const std::string design = ReadAll(kRoot / "docs" / "design.md");
    for (const char* part :
         {"## 3. Events in", "## 4. The queue and its rules", "### Rate limits",
          "## 5. Webhooks in", "## 6. Configuration", "## 10. Wire contract"}) {
      CHECK_MESSAGE(design.find(part) != std::string::npos, part);
    }
    // The outcome table: one row per CRM answer.
    for (const char* row : {"| 2xx |", "| 401", "| 404", "| 429 |"}) {
      CHECK_MESSAGE(design.find(row) != std::string::npos, row);
    }
  }
}
