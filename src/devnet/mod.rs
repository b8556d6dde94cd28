//! The devnet: a whole Session network on 127.0.0.1 (design.md §7).
