use super::*;
use crate::hsm::ceremony::Step;

const EXAMPLE: &str = include_str!("../../../../config/ceremony.toml");

fn parse_err(text: &str) -> (usize, usize, String) {
    match parse(text, Path::new("test.toml")) {
        Err(ScriptError::Invalid {
            line,
            column,
            message,
            ..
        }) => (line, column, message),
        other => panic!("expected an invalid script, got {other:?}"),
    }
}

const MINIMAL: &str = r#"
[ceremony]
name = "root"
operator = "Dana"
witnesses = ["Lee"]

[token]
use = "blank"
label = "root-token"

[[keys]]
label = "root-aes"
id = "01"
"#;

#[test]
fn the_example_script_parses_into_the_documented_plan() {
    let plan = parse(EXAMPLE, Path::new("config/ceremony.toml")).expect("example parses");
    assert_eq!(plan.name, "Payments root key 2025");
    assert_eq!(plan.witnesses, ["Lee Marsh", "Sam Ortiz"]);
    assert_eq!(
        plan.token,
        TokenChoice::Blank {
            label: "payments-root-2025".into()
        }
    );
    assert_eq!(plan.keys.len(), 1);
    assert_eq!(plan.keys[0].id, vec![1]);
    assert_eq!(plan.keys[0].usage, KeyUsage::DEFAULT);
    assert_eq!(plan.change_pin, None);
    let source = plan.script.as_ref().expect("script source");
    assert_eq!(source.sha256.len(), 64);
    assert_eq!(
        plan.steps(),
        [
            Step::Prepare,
            Step::InitToken,
            Step::InitUserPin,
            Step::GenerateKey { key: 0 },
            Step::Verify
        ]
    );
}

#[test]
fn an_existing_token_with_a_pin_change_has_its_steps() {
    let text = MINIMAL.replace(
        "use = \"blank\"",
        "use = \"existing\"\nserial = \"abc123\"\nset_user_pin = true",
    ) + "\n[change_pin]\nrole = \"so\"\n";
    let plan = parse(&text, Path::new("t.toml")).expect("parses");
    assert_eq!(
        plan.steps(),
        [
            Step::Prepare,
            Step::InitUserPin,
            Step::GenerateKey { key: 0 },
            Step::ChangePin {
                role: Role::SecurityOfficer
            },
            Step::Verify
        ]
    );
}

#[test]
fn an_unknown_field_is_named_with_its_line() {
    let text = MINIMAL.replace("id = \"01\"", "id = \"01\"\nkey_bits = 128");
    let (line, _, message) = parse_err(&text);
    assert_eq!(line, 14, "{message}");
    assert!(message.contains("unknown field `key_bits`"), "{message}");
}

#[test]
fn a_pin_field_does_not_exist() {
    let text = MINIMAL.replace(
        "label = \"root-token\"",
        "label = \"root-token\"\nso_pin = \"1234\"",
    );
    let (line, _, message) = parse_err(&text);
    assert_eq!(line, 10);
    assert!(message.contains("unknown field `so_pin`"), "{message}");
}

#[test]
fn a_bad_key_id_points_at_the_value() {
    let text = MINIMAL.replace("id = \"01\"", "id = \"0x1\"");
    let (line, column, message) = parse_err(&text);
    assert_eq!((line, column), (13, 6), "{message}");
    assert!(message.starts_with("keys[0].id:"), "{message}");
}

#[test]
fn an_existing_token_needs_its_serial() {
    let text = MINIMAL.replace("use = \"blank\"", "use = \"existing\"");
    let (line, _, message) = parse_err(&text);
    assert_eq!(line, 8);
    assert!(message.contains("token.serial: missing"), "{message}");

    let text = MINIMAL.replace("use = \"blank\"", "use = \"blank\"\nserial = \"1\"");
    let (_, _, message) = parse_err(&text);
    assert!(message.contains("only for use = \"existing\""), "{message}");
}

#[test]
fn plan_checks_point_at_the_field() {
    let text = MINIMAL.replace("witnesses = [\"Lee\"]", "witnesses = [\"Lee\", \"Dana\"]");
    let (line, column, message) = parse_err(&text);
    assert_eq!((line, column), (5, 21), "{message}");
    assert!(
        message.starts_with("ceremony.witnesses[1]: is the operator"),
        "{message}"
    );

    let text = format!("{MINIMAL}\n[[keys]]\nlabel = \"root-aes\"\nid = \"02\"\n");
    let (line, _, message) = parse_err(&text);
    assert_eq!(line, 16, "{message}");
    assert!(message.contains("repeats another key's label"), "{message}");

    let text = MINIMAL.replace("root-token", "a token label longer than thirty-two bytes");
    let (line, _, message) = parse_err(&text);
    assert_eq!(line, 9);
    assert!(message.contains("32 bytes"), "{message}");
}

#[test]
fn a_missing_file_is_named() {
    let err = load(Path::new("/nonexistent/ceremony.toml")).expect_err("missing");
    assert!(matches!(err, ScriptError::Missing { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/ceremony.toml"));
}
