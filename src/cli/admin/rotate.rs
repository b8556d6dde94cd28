//! `rotate-master-key --new-key-env VAR`: re-seals every secret of the configured database
//! under the key in `$VAR` ([`crate::store::rotation`] has the design). The old key is the
//! configured one (`security.master_key`), so the command runs with the gateway's own settings;
//! the new key never appears on the command line (where `ps` would show it).

use super::{json, AdminError, Target};
use crate::store::rotation::{rotate_master_key, RotateOptions};
use crate::store::MasterKey;

/// `rotate-master-key` options.
#[derive(Debug, Clone, clap::Args)]
pub struct RotateArgs {
    /// The environment variable holding the new key (base64 of 32 bytes, e.g. from
    /// `openssl rand -base64 32`).
    #[arg(long, value_name = "VAR")]
    pub new_key_env: String,
    #[command(flatten)]
    pub target: Target,
}

pub(super) async fn run(args: RotateArgs) -> Result<String, AdminError> {
    let settings = args.target.settings()?;
    let old = args.target.master_key(&settings)?;
    let new = new_key(&args.new_key_env)?;
    let url = args.target.database_url(&settings);
    let report = rotate_master_key(&url, &old, &new, RotateOptions::default()).await?;
    json(&report)
}

fn new_key(var: &str) -> Result<MasterKey, AdminError> {
    let text = std::env::var(var)
        .map_err(|_| AdminError::Invalid(format!("${var} is not set (the new master key)")))?;
    MasterKey::from_base64(&zeroize::Zeroizing::new(text)).map_err(|source| AdminError::BadKey {
        what: format!("${var}"),
        source,
    })
}
