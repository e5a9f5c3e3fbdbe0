//! Where the headless ceremony gets its PINs: the terminal, without echo, or one line at a
//! time from a file descriptor the caller opened for automation.
//!
//! PINs never come from arguments or the environment, which other users and child processes
//! can read. Every buffer a PIN passes through is zeroized.

use std::fs::File;
use std::io::{Read, Write};

use secrecy::SecretString;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::hsm::ceremony::PinUse;

/// How many times a mistyped repetition of a new PIN is asked again.
const NEW_PIN_ATTEMPTS: usize = 3;

/// A PIN could not be read.
#[derive(Debug, Error)]
pub enum PinInputError {
    #[error(
        "cannot read PINs from file descriptor {fd}: {source}; pass one that is open for \
         reading, such as --pin-fd 0 for standard input"
    )]
    FdNotOpen { fd: i32, source: std::io::Error },
    #[error("reading the {pin} from file descriptor {fd}: {source}")]
    FdRead {
        fd: i32,
        pin: PinUse,
        source: std::io::Error,
    },
    #[error(
        "file descriptor {fd} ended before the {pin}: give one PIN per line, in the order the \
         command printed"
    )]
    FdEnded { fd: i32, pin: PinUse },
    #[error("the {pin} is empty")]
    Empty { pin: PinUse },
    #[error(
        "cannot prompt for the {pin}: no terminal ({source}); give the PINs on a file \
         descriptor with --pin-fd"
    )]
    NoTerminal { pin: PinUse, source: std::io::Error },
    #[error("the two entries of the {pin} differed {NEW_PIN_ATTEMPTS} times; nothing was changed")]
    Mismatch { pin: PinUse },
}

/// A source of PINs.
#[derive(Debug)]
pub enum PinInput {
    /// Prompted on the controlling terminal without echo; new PINs are asked twice.
    Terminal,
    /// Read one per line from an inherited file descriptor.
    Fd { fd: i32, file: File },
}

impl PinInput {
    /// PINs from file descriptor `fd`, which this process inherited open.
    pub fn from_fd(fd: i32) -> Result<PinInput, PinInputError> {
        // Opening /dev/fd/N reaches the inherited descriptor without unsafe ownership games.
        let file = File::open(format!("/dev/fd/{fd}"))
            .map_err(|source| PinInputError::FdNotOpen { fd, source })?;
        Ok(PinInput::Fd { fd, file })
    }

    /// Reads the PIN for `pin`.
    pub fn read(&mut self, pin: PinUse) -> Result<SecretString, PinInputError> {
        match self {
            PinInput::Fd { fd, file } => read_line(file, *fd, pin),
            PinInput::Terminal => prompt(pin),
        }
    }
}

/// One line from `file`, byte by byte so nothing past the line is consumed.
fn read_line(file: &mut File, fd: i32, pin: PinUse) -> Result<SecretString, PinInputError> {
    let mut line = Zeroizing::new(Vec::new());
    let mut byte = [0u8; 1];
    loop {
        match file.read(&mut byte) {
            Ok(0) if line.is_empty() => return Err(PinInputError::FdEnded { fd, pin }),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => return Err(PinInputError::FdRead { fd, pin, source }),
        }
    }
    byte.zeroize();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    secret(&line, pin)
}

fn secret(bytes: &[u8], pin: PinUse) -> Result<SecretString, PinInputError> {
    if bytes.is_empty() {
        return Err(PinInputError::Empty { pin });
    }
    // PKCS#11 PINs are bytes; a PIN that is not UTF-8 is kept as its lossy text, which
    // SecretString requires. Tokens in practice accept printable ASCII.
    let text = Zeroizing::new(String::from_utf8_lossy(bytes).into_owned());
    Ok(SecretString::from(text.as_str()))
}

/// Prompts on the terminal; a new PIN twice, until both entries agree.
fn prompt(pin: PinUse) -> Result<SecretString, PinInputError> {
    let ask = |prompt: String| {
        rpassword::prompt_password(prompt)
            .map(Zeroizing::new)
            .map_err(|source| PinInputError::NoTerminal { pin, source })
    };
    for _ in 0..NEW_PIN_ATTEMPTS {
        let first = ask(format!("{}: ", capitalized(pin)))?;
        if !pin.is_new() {
            return secret(first.as_bytes(), pin);
        }
        let again = ask(format!("{} again: ", capitalized(pin)))?;
        if *first == *again {
            return secret(first.as_bytes(), pin);
        }
        eprintln!("The two entries differ; enter the {pin} again.");
    }
    Err(PinInputError::Mismatch { pin })
}

fn capitalized(pin: PinUse) -> String {
    let text = pin.prompt();
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// Asks a yes-or-no question on the terminal; only `yes` is yes.
pub fn confirm_on_terminal(question: &str) -> std::io::Result<bool> {
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")?;
    write!(tty, "{question} Type yes to go on: ")?;
    tty.flush()?;
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while tty.read(&mut byte)? == 1 && byte[0] != b'\n' {
        answer.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&answer).trim() == "yes")
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn lines_are_read_one_at_a_time_without_their_ends() {
        let mut file = tempfile_with(b"first-pin\r\nsecond-pin\nlast");
        let fd = 99;
        let a = read_line(&mut file, fd, PinUse::NewSo).expect("first");
        let b = read_line(&mut file, fd, PinUse::NewUser).expect("second");
        let c = read_line(&mut file, fd, PinUse::User).expect("third");
        assert_eq!(a.expose_secret(), "first-pin");
        assert_eq!(b.expose_secret(), "second-pin");
        assert_eq!(c.expose_secret(), "last");
        let err = read_line(&mut file, fd, PinUse::So).expect_err("ended");
        assert!(matches!(err, PinInputError::FdEnded { .. }), "{err}");
        assert!(err.to_string().contains("ended before the SO PIN"), "{err}");
    }

    #[test]
    fn an_empty_line_is_refused() {
        let mut file = tempfile_with(b"\nnext\n");
        let err = read_line(&mut file, 3, PinUse::User).expect_err("empty");
        assert_eq!(err.to_string(), "the user PIN is empty");
    }

    fn tempfile_with(bytes: &[u8]) -> File {
        let path = std::env::temp_dir().join(format!(
            "keyward-pin-input-{}-{}",
            std::process::id(),
            bytes.len()
        ));
        std::fs::write(&path, bytes).expect("write");
        let file = File::open(&path).expect("open");
        std::fs::remove_file(&path).expect("remove");
        file
    }
}
