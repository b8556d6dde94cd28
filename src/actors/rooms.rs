//! Joining a community room (communities.md §1.3): the server's capabilities (it must offer
//! `blind`: the gateway signs only with blinded IDs, as every current client does), then the
//! room's info, both signed by the joining account; the membership is recorded with
//! `community.joined` ([`crate::chat::community::record_join`]) and the server's lead polls
//! it from the next cycle on, starting at the room's current `seqno` (its past is not
//! replayed as events).

use super::keys::AccountKeys;
use super::{ActorError, Deps};
use crate::chat::community::JoinedRoom;
use crate::clock::now_ms;
use crate::ids::SessionIdText;
use crate::network::community::CommunityServer;
use crate::network::NetworkError;
use crate::protocol::blinding::blind15_key_pair;
use crate::protocol::community::CommunityUrl;
use crate::store::communities::{CommunityRoom, RoomMember};

/// Why a join failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The gateway runs without actors (no network).
    #[error("no network")]
    NoNetwork,
    /// The server cannot be used: no `blind` capability.
    #[error("the server does not support blinded IDs (capability `blind`)")]
    NotBlinded,
    /// The server refused (the room does not exist or is not readable: 404/403).
    #[error("the server refused: HTTP {status}: {message}")]
    Refused {
        /// Its status.
        status: u16,
        /// Its text.
        message: String,
    },
    /// The server could not be reached.
    #[error("the server could not be reached: {0}")]
    Unreachable(NetworkError),
    /// The account or the store failed.
    #[error(transparent)]
    Actor(#[from] ActorError),
}

impl From<NetworkError> for JoinError {
    fn from(error: NetworkError) -> Self {
        match error {
            NetworkError::Community { status, message } => Self::Refused { status, message },
            other => Self::Unreachable(other),
        }
    }
}

/// Joins `account` to the room `url` names; returns the room and whether it is new.
pub async fn join_room(
    deps: &Deps,
    account: &SessionIdText,
    url: &CommunityUrl,
) -> Result<(JoinedRoom, bool), JoinError> {
    let seed = deps
        .store
        .account_seed(account)
        .await
        .map_err(ActorError::from)?
        .ok_or(ActorError::BadRecipient)?;
    let keys = AccountKeys::from_stored_seed(account, &seed)?;
    let server = CommunityServer::new(url.base(), *url.server_pubkey())?;
    let capabilities = deps
        .network
        .community_capabilities(&server, &keys.identity)
        .await?;
    if !capabilities.iter().any(|c| c == "blind") {
        return Err(JoinError::NotBlinded);
    }
    let info = deps
        .network
        .community_room(&server, &keys.identity, url.room())
        .await?;
    let token = if info.token.is_empty() {
        url.room().to_owned()
    } else {
        info.token.clone()
    };
    let room_id = format!("{}/{}", server.base(), token);
    let blinded_id = blind15_key_pair(&keys.identity, url.server_pubkey())
        .id()
        .to_string();
    let joined = JoinedRoom {
        room: CommunityRoom {
            room: room_id,
            server: server.base().to_owned(),
            server_key: url.server_pubkey().to_string(),
            token,
            name: info.name.clone(),
            description: info.description.clone(),
            info_updates: info.info_updates,
            seqno: info.message_sequence,
            moderators: info.moderators_and_admins(),
        },
        member: RoomMember {
            account: account.as_str().to_owned(),
            blinded_id,
            moderator: info.moderator || info.admin,
            joined_at: now_ms(),
        },
    };
    let new = crate::chat::community::record_join(&deps.store, account, &joined)
        .await
        .map_err(ActorError::Domain)?;
    Ok((joined, new))
}
