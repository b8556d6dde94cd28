//! How the event bodies appear in `/openapi.json`: one component schema per body, and the
//! `WebhookEvent` schema saying which body goes with which `type`.

use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{Ref, RefOr};
use utoipa::ToSchema;

use super::{
    AccountStatusData, CallOfferedData, CommunityData, CommunityInvitationData,
    ConversationUpdatedData, DataExtractionData, DisappearingSetting, EventType, GroupData,
    GroupMemberData, MessageDeletedData, MessageExpiredData, MessageRequestAcceptedData,
    MessageRequestReceivedData, ProfileUpdatedData, ReactionData, TypingData, WebhookDisabledData,
};

/// The component name of the envelope schema (`{id, type, account, timestamp, data}` with
/// `data` typed by `type`).
pub const WEBHOOK_EVENT: &str = "WebhookEvent";

/// The message and attachment views are the API's own schemas (registered by the endpoints
/// that return them); the events reuse them by name.
const MESSAGE: &str = "Message";
const ATTACHMENT: &str = "AttachmentView";

/// The component schema name of `event_type`'s `data`.
pub fn data_schema_name(event_type: EventType) -> String {
    use EventType as T;
    match event_type {
        T::MessageReceived
        | T::MessageSent
        | T::MessageFailed
        | T::MessageRead
        | T::MessageEdited => MESSAGE.into(),
        T::AttachmentAvailable | T::AttachmentFailed => ATTACHMENT.into(),
        T::AccountStatus => AccountStatusData::name().into_owned(),
        T::ReactionAdded | T::ReactionRemoved => ReactionData::name().into_owned(),
        T::MessageDeleted => MessageDeletedData::name().into_owned(),
        T::MessageExpired => MessageExpiredData::name().into_owned(),
        T::TypingStarted | T::TypingStopped => TypingData::name().into_owned(),
        T::ProfileUpdated => ProfileUpdatedData::name().into_owned(),
        T::MessageRequestReceived => MessageRequestReceivedData::name().into_owned(),
        T::MessageRequestAccepted => MessageRequestAcceptedData::name().into_owned(),
        T::ConversationUpdated => ConversationUpdatedData::name().into_owned(),
        T::DataExtractionReceived => DataExtractionData::name().into_owned(),
        T::CommunityInvitationReceived => CommunityInvitationData::name().into_owned(),
        T::CallOffered => CallOfferedData::name().into_owned(),
        T::GroupInvited | T::GroupJoined | T::GroupUpdated | T::GroupKicked | T::GroupDestroyed => {
            GroupData::name().into_owned()
        }
        T::GroupMemberAdded
        | T::GroupMemberLeft
        | T::GroupMemberRemoved
        | T::GroupMemberPromoted => GroupMemberData::name().into_owned(),
        T::CommunityJoined | T::CommunityUpdated => CommunityData::name().into_owned(),
        T::WebhookDisabled => WebhookDisabledData::name().into_owned(),
    }
}

fn entry<T: ToSchema>() -> (String, RefOr<Schema>) {
    (T::name().into_owned(), T::schema())
}

/// The body schemas this module defines, as `(component name, schema)`; the message and
/// attachment views are registered by the API.
pub fn schemas() -> Vec<(String, RefOr<Schema>)> {
    vec![
        entry::<AccountStatusData>(),
        entry::<ReactionData>(),
        entry::<MessageDeletedData>(),
        entry::<MessageExpiredData>(),
        entry::<TypingData>(),
        entry::<ProfileUpdatedData>(),
        entry::<MessageRequestReceivedData>(),
        entry::<MessageRequestAcceptedData>(),
        entry::<DisappearingSetting>(),
        entry::<ConversationUpdatedData>(),
        entry::<DataExtractionData>(),
        entry::<CommunityInvitationData>(),
        entry::<CallOfferedData>(),
        entry::<GroupData>(),
        entry::<GroupMemberData>(),
        entry::<CommunityData>(),
        entry::<WebhookDisabledData>(),
    ]
}

/// `WebhookEvent`: a `oneOf` with one object per event type, whose `type` is an enum of that
/// one wire name and whose `data` refers to the body's component schema.
pub fn webhook_event_schema() -> Schema {
    let string = || ObjectBuilder::new().schema_type(Type::String);
    let mut one_of = OneOfBuilder::new().description(Some(
        "An event as `GET /v1/events` lists it and webhooks deliver it; `type` selects `data`.",
    ));
    for event_type in EventType::ALL {
        let variant = ObjectBuilder::new()
            .property("id", string())
            .property("type", string().enum_values(Some([event_type.as_str()])))
            .property(
                "account",
                ObjectBuilder::new().schema_type(utoipa::openapi::schema::SchemaType::from_iter([
                    Type::String,
                    Type::Null,
                ])),
            )
            .property("timestamp", ObjectBuilder::new().schema_type(Type::Integer))
            .property("data", Ref::from_schema_name(data_schema_name(event_type)))
            .required("id")
            .required("type")
            .required("timestamp")
            .required("data");
        one_of = one_of.item(variant);
    }
    one_of.build().into()
}
