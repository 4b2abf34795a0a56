// The private listener (admin_listen): one port per process, on loopback by default, where the
// operator's scraper and the app reach /metrics, /healthz, /readyz and /api of this very process.
// The public port (SO_REUSEPORT) lands each request on a random frontend, so per-process series
// could not be collected there; and /metrics, /api stay off it unless public_admin is set
// (docs/deploy.md "Metrics and health").
#pragma once

#include <uv.h>

#include <functional>
#include <string>

namespace webim {

class AdminListener {
 public:
  using AcceptHandler = std::function<void(int fd)>;

  AdminListener() = default;
  AdminListener(const AdminListener&) = delete;
  AdminListener& operator=(const AdminListener&) = delete;

  // Binds `address` (HOST:PORT; port 0: any free one) and accepts into `onAccept` (a non-blocking
  // fd). Throws std::runtime_error naming the address.
  void open(uv_loop_t* loop, const std::string& address, AcceptHandler onAccept);
  // Stops accepting and closes the socket (through the loop). Harmless twice or unopened.
  void close();
  // HOST:PORT actually bound (the port chosen for port 0).
  std::string boundAddress() const;

 private:
  static constexpr int kAcceptBatch = 16;    // a scraper or an app, not a crowd
  static constexpr uint64_t kPauseMs = 100;  // after an accept error that would repeat at once
  static void onReadable(uv_poll_t* handle, int status, int events);

  uv_poll_t poll_{};
  uv_timer_t pause_{};
  int fd_ = -1;
  AcceptHandler onAccept_;
};

}  // namespace webim
