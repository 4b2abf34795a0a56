// A vector of pointers that holds up to N of them inside itself and needs no heap block for them
// (a connection's subscriptions: usually its inbox and a room or two). Beyond N it moves them to a
// heap array. Order is not kept by erase (it swaps in the last element). 18 bytes for N = 2, and a
// [[no_unique_address]] member lets the owner's small fields use the rest of its last 8 bytes.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

namespace webim {

template <class T, uint32_t N>
class InlinePtrVec {
  static_assert(N >= 1);

 public:
  InlinePtrVec() = default;
  InlinePtrVec(const InlinePtrVec&) = delete;
  InlinePtrVec& operator=(const InlinePtrVec&) = delete;
  ~InlinePtrVec() { clear(); }

  T* const* begin() const noexcept { return data(); }
  T* const* end() const noexcept { return data() + size_; }
  uint32_t size() const noexcept { return size_; }
  static constexpr uint32_t max_size() noexcept { return UINT16_MAX; }
  bool empty() const noexcept { return size_ == 0; }

  void push_back(T* value) {  // callers keep size() < max_size()
    if (size_ < N) {
      items_.inline_[size_++] = value;
      return;
    }
    if (size_ == N || size_ == items_.heap.capacity) grow();
    items_.heap.items[size_++] = value;
  }

  // Removes one occurrence of `value`; returns whether it was there.
  bool erase(T* value) noexcept {
    T** items = data();
    T** end = items + size_;
    T** it = std::find(items, end, value);
    if (it == end) return false;
    *it = end[-1];
    --size_;
    if (size_ == N) {  // back inside
      T** heap = items_.heap.items;
      std::memcpy(items_.inline_, heap, N * sizeof(T*));
      std::free(heap);
    }
    return true;
  }

  void clear() noexcept {
    if (size_ > N) std::free(items_.heap.items);
    size_ = 0;
  }

 private:
  T** data() noexcept { return size_ <= N ? items_.inline_ : items_.heap.items; }
  T* const* data() const noexcept { return size_ <= N ? items_.inline_ : items_.heap.items; }

  void grow() {
    uint32_t capacity = size_ == N ? N * 2 : items_.heap.capacity * 2;
    auto** grown = static_cast<T**>(std::malloc(capacity * sizeof(T*)));
    if (grown == nullptr) throw std::bad_alloc();
    std::memcpy(grown, data(), size_ * sizeof(T*));
    if (size_ > N) std::free(items_.heap.items);
    items_.heap.items = grown;
    items_.heap.capacity = capacity;
  }

  union Items {
    T* inline_[N];
    struct {
      T** items;
      uint32_t capacity;
    } heap;
  } items_{};
  uint16_t size_ = 0;
};

}  // namespace webim
