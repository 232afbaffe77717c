//! The codec against docs/protocol.md's golden wire strings, and property tests: every typed
//! command round-trips, and no text makes the decoder panic.

use dglab_core::protocol::codec::{self, decode, Inbound};
use dglab_core::protocol::command::{
    AppCommand, AppReport, Channel, FeedbackButton, StrengthMode, StrengthReport,
};
use dglab_core::protocol::{Code, Envelope, MessageType};
use dglab_core::Frame;
use proptest::prelude::*;

#[test]
fn golden_frames_decode_and_reencode_unchanged() {
    for text in [
        r#"{"type":"bind","clientId":"1f0e3b4c-3d2a-4e1b-9c8d-7a6b5c4d3e2f","targetId":"","message":"targetId"}"#,
        r#"{"type":"bind","clientId":"1f0e3b4c-3d2a-4e1b-9c8d-7a6b5c4d3e2f","targetId":"2a1b0c9d-8e7f-4a6b-8c5d-4e3f2a1b0c9d","message":"DGLAB"}"#,
        r#"{"type":"bind","clientId":"a","targetId":"b","message":"200"}"#,
        r#"{"type":"msg","clientId":"a","targetId":"b","message":"strength-1+2+35"}"#,
        r#"{"type":"msg","clientId":"a","targetId":"b","message":"pulse-A:[\"0A0A0A0A00000000\",\"0A0A0A0A64646464\"]"}"#,
        r#"{"type":"msg","clientId":"a","targetId":"b","message":"clear-2"}"#,
        r#"{"type":"msg","clientId":"a","targetId":"b","message":"strength-10+0+100+35"}"#,
        r#"{"type":"msg","clientId":"a","targetId":"b","message":"feedback-9"}"#,
        r#"{"type":"heartbeat","clientId":"a","targetId":"","message":"200"}"#,
        r#"{"type":"break","clientId":"a","targetId":"b","message":"209"}"#,
        r#"{"type":"error","clientId":"a","targetId":"b","message":"500"}"#,
    ] {
        let Ok(Inbound::Envelope(env)) = decode(text) else {
            panic!("{text} did not decode");
        };
        assert_eq!(codec::encode(&env).unwrap(), text);
    }
}

#[test]
fn codes_have_their_numbers_and_reply_types() {
    for (code, n, ty) in [
        (Code::Success, 200, MessageType::Bind),
        (Code::PeerDisconnected, 209, MessageType::Break),
        (Code::AlreadyPaired, 400, MessageType::Bind),
        (Code::TargetNotConnected, 401, MessageType::Bind),
        (Code::NotPaired, 402, MessageType::Bind),
        (Code::NotJson, 403, MessageType::Msg),
        (Code::NotFound, 404, MessageType::Msg),
        (Code::TooLong, 405, MessageType::Msg),
        (Code::Internal, 500, MessageType::Error),
    ] {
        assert_eq!(code.as_u16(), n);
        assert_eq!(code.as_message(), n.to_string());
        assert_eq!(Code::from_message(&n.to_string()), Some(code));
        assert_eq!(code.reply_type(), ty);
    }
}

fn channel() -> impl Strategy<Value = Channel> {
    prop_oneof![Just(Channel::A), Just(Channel::B)]
}

fn frame() -> impl Strategy<Value = Frame> {
    (
        prop::array::uniform4(10u8..=240),
        prop::array::uniform4(0u8..=100),
    )
        .prop_map(|(f, i)| Frame::new(f, i).unwrap())
}

fn command() -> impl Strategy<Value = AppCommand> {
    prop_oneof![
        (channel(), 0u8..3, 0u8..=200).prop_map(|(channel, m, value)| AppCommand::Strength {
            channel,
            mode: [
                StrengthMode::Decrease,
                StrengthMode::Increase,
                StrengthMode::Set
            ][m as usize],
            value
        }),
        (channel(), prop::collection::vec(frame(), 1..=100))
            .prop_map(|(channel, frames)| AppCommand::Pulse { channel, frames }),
        channel().prop_map(AppCommand::Clear),
    ]
}

proptest! {
    #[test]
    fn commands_round_trip(cmd in command()) {
        prop_assert_eq!(AppCommand::parse(&cmd.format()), Some(cmd));
    }

    #[test]
    fn reports_round_trip(a in 0u8..=200, b in 0u8..=200, la in 0u8..=200, lb in 0u8..=200, fb in 0u8..=9) {
        let r = AppReport::Strength(StrengthReport { a, b, limit_a: la, limit_b: lb });
        prop_assert_eq!(AppReport::parse(&r.format()), Some(r));
        let f = AppReport::Feedback(FeedbackButton::new(fb).unwrap());
        prop_assert_eq!(AppReport::parse(&f.format()), Some(f));
    }

    #[test]
    fn envelopes_round_trip(kind in 0usize..5, c in ".{0,40}", t in ".{0,40}", m in ".{0,300}") {
        let kind = [MessageType::Bind, MessageType::Msg, MessageType::Heartbeat, MessageType::Break, MessageType::Error][kind];
        let env = Envelope::new(kind, c, t, m);
        let text = codec::encode_unchecked(&env);
        // Our escaping agrees with a real JSON parser.
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        prop_assert_eq!(v["message"].as_str(), Some(env.message.as_str()));
        prop_assert_eq!(decode(&text), Ok(Inbound::Envelope(env)));
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
        let _ = decode(&s);
        let _ = AppCommand::parse(&s);
        let _ = AppReport::parse(&s);
    }

    #[test]
    fn arbitrary_json_objects_never_panic(
        ty in prop_oneof![Just(serde_json::json!("msg")), Just(serde_json::json!(3)), Just(serde_json::json!("clientMsg")), Just(serde_json::Value::Null), any::<i64>().prop_map(serde_json::Value::from)],
        ch in prop_oneof![Just(serde_json::Value::Null), any::<i64>().prop_map(serde_json::Value::from), "[AB12x]{0,2}".prop_map(serde_json::Value::from)],
        strength in any::<f64>(),
        time in any::<f64>(),
        msg in "\\PC{0,60}",
    ) {
        let v = serde_json::json!({"type": ty, "clientId":"a","targetId":"b","message":msg,"channel":ch,"strength":strength,"time":time});
        let _ = decode(&v.to_string());
    }
}
