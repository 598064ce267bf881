//! Questions on the terminal: a prompt on the output, one line read from the input.
//!
//! Input and output are passed in (standard input/output in the binary), so the reading rules
//! are tested here without a terminal.

use crate::error::{Error, Result};
use std::io::{BufRead, Read, Write};
use zeroize::Zeroizing;

/// Longest answer considered; the rest of a longer line is read and thrown away.
pub(crate) const MAX_ANSWER_LEN: u64 = 256;

/// The terminal the interactive commands talk through.
pub(crate) struct Console<'a> {
    /// Where answers come from.
    pub(crate) input: &'a mut dyn BufRead,
    /// Where prompts, results and shown secrets go.
    pub(crate) out: &'a mut dyn Write,
}

impl Console<'_> {
    /// Shows `prompt` and reads one line, without its line ending and surrounding whitespace.
    /// `Ok(None)`: end of input before anything was typed.
    pub(crate) fn ask(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>> {
        write!(self.out, "{prompt}").map_err(Error::stdout)?;
        self.out.flush().map_err(Error::stdout)?;
        let answer = read_answer(&mut *self.input)?;
        if answer.is_none() {
            // The user pressed Ctrl-D: end the prompt's line.
            writeln!(self.out).map_err(Error::stdout)?;
        }
        Ok(answer)
    }

    /// Like [`Console::ask`], but without echo when standard input is a terminal (a PIN, or a
    /// recovery code typed to prove who you are). The terminal's settings are restored after.
    pub(crate) fn ask_hidden(&mut self, prompt: &str) -> Result<Option<Zeroizing<String>>> {
        use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
        use std::io::IsTerminal;
        let stdin = std::io::stdin();
        let saved = if stdin.is_terminal() { tcgetattr(&stdin).ok() } else { None };
        if let Some(saved) = &saved {
            let mut quiet = saved.clone();
            quiet.local_flags.remove(LocalFlags::ECHO);
            let _ = tcsetattr(&stdin, SetArg::TCSAFLUSH, &quiet);
        }
        let answer = self.ask(prompt);
        if let Some(saved) = &saved {
            let _ = tcsetattr(&stdin, SetArg::TCSAFLUSH, saved);
            // The Enter the user typed was not echoed either.
            writeln!(self.out).map_err(Error::stdout)?;
        }
        answer
    }

    /// Asks a yes/no question; only `y` or `yes` (any case) count as yes, end of input as no.
    pub(crate) fn confirm(&mut self, question: &str) -> Result<bool> {
        let answer = self.ask(&format!("{question} [y/N] "))?;
        Ok(answer.is_some_and(|a| a.eq_ignore_ascii_case("y") || a.eq_ignore_ascii_case("yes")))
    }
}

/// Reads one line of at most [`MAX_ANSWER_LEN`] bytes. `Ok(None)` only at end of input with
/// nothing read.
pub(crate) fn read_answer(input: &mut dyn BufRead) -> Result<Option<Zeroizing<String>>> {
    let mut line = Zeroizing::new(Vec::new());
    let n = Read::take(&mut *input, MAX_ANSWER_LEN)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::io("read standard input", e))?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') && n as u64 == MAX_ANSWER_LEN {
        // Too long: discard the rest of the line so the next question starts fresh.
        skip_line(input)?;
    }
    let text = String::from_utf8_lossy(&line);
    Ok(Some(Zeroizing::new(text.trim().to_string())))
}

fn skip_line(input: &mut dyn BufRead) -> Result<()> {
    loop {
        let buf = input.fill_buf().map_err(|e| Error::io("read standard input", e))?;
        if buf.is_empty() {
            return Ok(());
        }
        match buf.iter().position(|&b| b == b'\n') {
            Some(i) => {
                input.consume(i + 1);
                return Ok(());
            }
            None => {
                let len = buf.len();
                input.consume(len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answers(input: &[u8]) -> Vec<Option<String>> {
        let mut input = input;
        let mut out = Vec::new();
        let mut console = Console { input: &mut input, out: &mut out };
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(console.ask("? ").expect("reads").map(|a| a.to_string()));
        }
        got
    }

    #[test]
    fn lines_are_trimmed_and_eof_is_none() {
        assert_eq!(
            answers(b" 123 456 \r\n\nx"),
            vec![Some("123 456".into()), Some(String::new()), Some("x".into())]
        );
        assert_eq!(answers(b"1\n"), vec![Some("1".into()), None, None]);
    }

    #[test]
    fn overlong_line_is_cut_and_the_rest_skipped() {
        let mut input = "9".repeat(1000).into_bytes();
        input.extend_from_slice(b"\nnext\n");
        let got = answers(&input);
        assert_eq!(got[0].as_ref().map(String::len), Some(MAX_ANSWER_LEN as usize));
        assert_eq!(got[1].as_deref(), Some("next"));
        assert_eq!(got[2], None);
    }

    #[test]
    fn confirm_needs_an_explicit_yes() {
        for (input, want) in
            [(&b"y\n"[..], true), (b"YES\n", true), (b"n\n", false), (b"\n", false), (b"", false)]
        {
            let mut input = input;
            let mut out = Vec::new();
            let mut console = Console { input: &mut input, out: &mut out };
            assert_eq!(console.confirm("Remove?").expect("reads"), want);
            assert!(String::from_utf8(out).expect("utf8").starts_with("Remove? [y/N] "));
        }
    }
}
