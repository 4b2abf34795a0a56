#include "broadcast/own_reads.h"

#include <algorithm>
#include <unordered_map>

#include "broadcast/read_cursors.h"
#include "common/topics.h"

namespace webim::hub {

bool ownReadApplies(std::string_view channel) { return !isInboxChannel(channel); }

OwnReadsMerge mergeOwnReads(const std::vector<OwnRead>& reads, std::vector<ReadCursor>& staged) {
  OwnReadsMerge out;
  if (reads.empty()) return out;
  std::unordered_map<std::string, size_t> last;  // key -> index of its last own read
  for (size_t i = 0; i < reads.size(); ++i) {
    const std::string k = BatchCursors::key(reads[i].channel, reads[i].user);
    auto [it, added] = last.try_emplace(k, i);
    if (!added && reads[i].seq >= reads[it->second].seq) it->second = i;
  }
  std::unordered_map<std::string, size_t> stagedAt;  // the records the batch's reads staged (often none)
  for (size_t i = 0; i < staged.size(); ++i) stagedAt.emplace(BatchCursors::key(staged[i].channel, staged[i].user), i);
  staged.reserve(staged.size() + last.size());
  out.keys.reserve(last.size());
  for (const auto& [k, i] : last) {
    const OwnRead& r = reads[i];
    if (auto at = stagedAt.find(k); !stagedAt.empty() && at != stagedAt.end()) {
      staged[at->second].seq = std::max(staged[at->second].seq, r.seq);
    } else {
      staged.push_back(ReadCursor{r.channel, r.user, r.seq});
      ++out.added;
    }
    out.receipts.push_back(i);
    out.keys.push_back(k);
  }
  std::sort(out.receipts.begin(), out.receipts.end());
  return out;
}

}  // namespace webim::hub
