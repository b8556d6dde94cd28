//! Community blinding (§7.1, §7.2, §2.4).
