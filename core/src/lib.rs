//! voice-core: the sans-IO planner behind `kubectl voice`.
