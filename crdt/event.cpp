// Names of body kinds; see crdt/event.h.
#include "crdt/event.h"

#include <type_traits>

namespace baton::crdt {

const char* BodyKindName(const Body& body) {
  return std::visit(
      [](const auto& b) -> const char* {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, PlanDefined>) return "plan_defined";
        if constexpr (std::is_same_v<T, PlanAmended>) return "plan_amended";
        if constexpr (std::is_same_v<T, TaskAdded>) return "task_added";
        if constexpr (std::is_same_v<T, TaskChanged>) return "task_changed";
        if constexpr (std::is_same_v<T, TaskRemoved>) return "task_removed";
        if constexpr (std::is_same_v<T, TaskReported>) return "task_reported";
        if constexpr (std::is_same_v<T, NoteAdded>) return "note_added";
        if constexpr (std::is_same_v<T, GateDecided>) return "gate_decided";
      },
      body);
}

}  // namespace baton::crdt
