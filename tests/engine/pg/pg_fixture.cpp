// pg_fixture.cpp: the ctest fixture `pg` (tests/CMakeLists.txt). One PostgreSQL
// server serves every test process of a ctest run, instead of an initdb and a
// server per test case (most of the PostgreSQL and Redis cases' time).
//
//   pg_fixture start DIR   initdb and start a server in DIR; write DIR/conninfo
//   pg_fixture stop DIR    stop it and remove DIR
//
// Exits 0 on success; else prints why and exits 1 (ctest then skips the cases
// that need the server, marking them not run).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <chrono>
#include <iostream>
#include <string>

#include "pg_server.h"

int main(int argc, char** argv) {
  const std::string command = argc == 3 ? argv[1] : "";
  if (command != "start" && command != "stop") {
    std::cerr << "usage: pg_fixture start|stop DIR\n";
    return 2;
  }
  const std::string dir = argv[2];
  const auto started = std::chrono::steady_clock::now();
  std::string error = command == "start" ? crmsync::testing::StartSharedPgServer(dir)
                                         : crmsync::testing::StopSharedPgServer(dir);
  if (!error.empty()) {
    std::cerr << "pg_fixture " << command << " " << dir << ": " << error << "\n";
    return 1;
  }
  const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  std::cout << "pg_fixture " << command << " " << dir << ": ok in " << took.count() << " ms\n";
  return 0;
}
