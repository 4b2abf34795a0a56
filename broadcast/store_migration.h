// Ordered store migrations, the part both stores share (pure: no I/O). Each store keeps a format
// (RocksDB) or schema (PostgreSQL) version and a list of numbered steps; at open the steps above
// the stored version run once each, in order, each recording its number when it is done (in the
// same transaction where the engine allows: rocksdb_migrations.h, postgres_schema.h).
//
// Contract of a list: steps are numbered 1, 2, ... N without gaps, in order; step k turns a store
// at version k-1 into one at version k. A store at a version above N was written by a newer
// binary: it is refused (HistoryStoreError), never downgraded or touched.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "broadcast/history_store.h"

namespace webim::hub {

// The steps of `steps` still to run on a store at version `stored`, in order. Throws
// HistoryStoreError when the list is misnumbered (a bug) or the store is newer than the list.
// Step is any type with a `uint32_t version` member.
template <class Step>
std::vector<const Step*> pendingMigrations(const std::vector<Step>& steps, uint32_t stored, std::string_view store) {
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].version != i + 1) {
      throw HistoryStoreError(std::string(store) + " migration list is misnumbered at step " + std::to_string(i + 1));
    }
  }
  const auto latest = static_cast<uint32_t>(steps.size());
  if (stored > latest) {
    throw HistoryStoreError(std::string(store) + " is at version " + std::to_string(stored) +
                            ", newer than this webim-broadcast knows (" + std::to_string(latest) +
                            "): it was written by a newer release; run that release (or newer)");
  }
  std::vector<const Step*> out;
  for (uint32_t v = stored; v < latest; ++v) out.push_back(&steps[v]);
  return out;
}

}  // namespace webim::hub
