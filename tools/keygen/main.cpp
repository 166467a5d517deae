// baton-keygen: creates a site identity in a directory (site.pub hex, site.key hex mode 0600)
// and prints the public key in hex, for the runbook's roster. Never overwrites an existing key;
// `--show` prints the public key of an existing identity instead.
#include <CLI/CLI.hpp>
#include <exception>
#include <iostream>
#include <string>

#include "daemon/identity/keys.h"

int main(int argc, char** argv) {
  try {
    CLI::App app{"Create a baton site identity (Ed25519) and print its public key"};
    std::string dir;
    bool show = false;
    app.add_option("--dir", dir, "Key directory (created if missing)")->required();
    app.add_flag("--show", show, "Print the public key of the existing identity in --dir");
    CLI11_PARSE(app, argc, argv);

    namespace identity = baton::identity;
    if (!show) {
      const baton::Status s = identity::WriteKeyFiles(dir, identity::GenerateKeyPair());
      if (!s.ok()) {
        std::cerr << "baton-keygen: " << s.ToString() << "\n";
        return 1;
      }
    }
    auto keys = identity::ReadKeyFiles(dir);
    if (!keys.ok()) {
      std::cerr << "baton-keygen: " << keys.status().ToString() << "\n";
      return 1;
    }
    std::cout << identity::ToHex(keys->public_key) << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "baton-keygen: " << e.what() << "\n";
    return 2;
  }
}
