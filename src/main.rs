//! The `session-gateway` binary.

fn main() {
    println!("session-gateway");
}
