// The state of a frontend's drain (SIGTERM; Frontend::startDrain in drain.cpp): the schedule of
// who is sent away when, and the connections whose turn came while they were still in their HTTP
// exchange (sent away once upgraded, or left to finish their answer).
#pragma once

#include <vector>

#include "common/timer_wheel.h"
#include "frontend/drain_schedule.h"

namespace webim {

class Frontend;

struct DrainState : TimerNode {
  Frontend* frontend = nullptr;
  DrainSchedule schedule;
  std::vector<int> waiting;  // fds due but still in their HTTP exchange
};

}  // namespace webim
