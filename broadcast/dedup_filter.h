// The PostgreSQL store's dedup filter (pure: no I/O). The sequencer looks up (from, cid) once per
// publish, and on PostgreSQL that is a round trip per message. The store keeps a Bloom filter of
// the dedup keys younger than the TTL (loaded at open, then fed by every commit), so a new cid is
// answered "not found" without a query; only filter hits (~1% false positives) go to the server.
// Relies on the hub being the single writer of its channels' records.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace webim::hub {

// The filter's hash of a dedup key (from never contains '\0').
uint64_t dedupKeyHash(std::string_view from, std::string_view cid);

// A Bloom filter that grows by adding a twice-as-large filter when the last one is full, so its
// false-positive rate stays ~1% whatever the number of keys. No false negatives.
class GrowingBloom {
 public:
  void add(uint64_t h);
  bool mayContain(uint64_t h) const;

 private:
  static constexpr size_t kFirstCapacity = 1 << 16;
  static constexpr int kHashes = 7;  // ~10 bits per key: ~1% false positives
  static constexpr size_t kBitsPerKey = 10;
  struct Part {
    explicit Part(size_t cap) : capacity(cap), bits((cap * kBitsPerKey + 63) / 64, 0) {}
    size_t capacity;
    size_t count = 0;
    std::vector<uint64_t> bits;
    void add(uint64_t h);
    bool mayContain(uint64_t h) const;
  };
  std::vector<Part> parts_;
};

// Two generations: `current` takes every new key; when it is older than the TTL, `previous` (whose
// keys are all older than the TTL by then, so the sequencer ignores them anyway) is dropped.
// mayContain is true for every key added within the last TTL (+ a minute of slack).
class DedupFilter {
 public:
  explicit DedupFilter(int64_t ttlMs) : ttlMs_(ttlMs) {}
  void reset(int64_t nowMs);
  void add(uint64_t h, int64_t nowMs);
  bool mayContain(uint64_t h, int64_t nowMs);

 private:
  void rotate(int64_t nowMs);
  static constexpr int64_t kSlackMs = 60000;  // clock steps, records sequenced just before a commit
  int64_t ttlMs_;
  int64_t currentSince_ = 0;
  GrowingBloom current_, previous_;
};

}  // namespace webim::hub
