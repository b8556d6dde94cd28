//! Command-line front ends. `main.rs` parses arguments; each subcommand lives here in its own
//! module so that the binary stays a thin dispatcher.

pub mod admin;
pub mod offline;
pub mod serve;

/// The one line `main` prints for a failure: the chain of causes joined by `: `, each said
/// once. Errors that include their source in their own text (`"…: {0}"`) would otherwise print
/// it twice, since the chain lists that source again.
pub fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::error_line;

    #[derive(Debug, thiserror::Error)]
    #[error("outer: {0}")]
    struct Outer(#[from] Inner);

    #[derive(Debug, thiserror::Error)]
    #[error("the cause")]
    struct Inner;

    #[test]
    fn each_cause_is_said_once() {
        let error = anyhow::Error::from(Outer(Inner));
        assert_eq!(format!("{error:#}"), "outer: the cause: the cause");
        assert_eq!(error_line(&error), "outer: the cause");
        let wrapped = error.context("starting");
        assert_eq!(error_line(&wrapped), "starting: outer: the cause");
    }
}
