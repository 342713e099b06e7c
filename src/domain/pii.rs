//! Personal data — resident ID numbers and bank account numbers — masked for those who may not
//! see it in full (administrators) and scrubbed from every log line.

use std::borrow::Cow;

/// `510104199001011234` → `5101**********1234`: the province and city stay readable.
pub fn mask_id_number(id: &str) -> String {
    mask_keeping(id, 4, 4)
}

/// `6222021234567890123` → `***************0123`.
pub fn mask_account(account: &str) -> String {
    mask_keeping(account, 0, 4)
}

fn mask_keeping(value: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    chars.iter().enumerate().map(|(i, c)| if i < head || i >= chars.len() - tail { *c } else { '*' }).collect()
}

/// A kind of personal number found in free text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersonalNumber {
    ResidentId,
    BankAccount,
    Phone,
}

impl PersonalNumber {
    pub fn describe(self) -> &'static str {
        match self {
            Self::ResidentId => "a resident ID number",
            Self::BankAccount => "a bank account number",
            Self::Phone => "a phone number",
        }
    }
}

/// Which numbers a scrub looks for: logs mask ID and account numbers; text shown to those who
/// may not see personal data (shared cases, public pages) masks phone numbers too.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Looking {
    IdsAndAccounts,
    WithPhones,
}

/// Whether a standalone token looks like a resident ID number (17 digits and a digit or X), a
/// bank account number (12 to 30 digits) or, when asked, a mainland phone number (a mobile
/// `1[3-9]` and 9 digits, or a landline `0` and 9 to 11 digits, `-` allowed; `86` before it).
fn sensitive(token: &str, looking: Looking) -> Option<(PersonalNumber, String)> {
    let bytes = token.as_bytes();
    let digits = bytes.iter().filter(|b| b.is_ascii_digit()).count();
    let resident_id = bytes.len() == 18
        && digits >= 17
        && bytes[..17].iter().all(u8::is_ascii_digit)
        && (bytes[17].is_ascii_digit() || bytes[17] == b'X' || bytes[17] == b'x');
    if resident_id {
        return Some((PersonalNumber::ResidentId, mask_id_number(token)));
    }
    if looking == Looking::WithPhones && is_phone(token) {
        return Some((PersonalNumber::Phone, mask_keeping(token, 3, 4)));
    }
    if (12..=30).contains(&bytes.len()) && digits == bytes.len() {
        return Some((PersonalNumber::BankAccount, mask_account(token)));
    }
    None
}

fn is_phone(token: &str) -> bool {
    if token.starts_with('-') || token.ends_with('-') || !token.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
        return false;
    }
    let digits: String = token.chars().filter(char::is_ascii_digit).collect();
    let national = match digits.strip_prefix("86") {
        Some(rest) if rest.len() >= 10 => rest,
        _ => digits.as_str(),
    };
    let b = national.as_bytes();
    let mobile = b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]);
    let landline = (10..=12).contains(&b.len()) && b[0] == b'0' && b[1] != b'0';
    mobile || landline
}

/// Masks every resident-ID-like or account-like number in free text. Tokens are maximal runs
/// of ASCII letters, digits and `-`, so parts of UUIDs, hashes and codes are left alone; an
/// escape (`\n`, `\t`, `\"`) and a colour code separate tokens, and digits joined to a `.` and
/// more digits (the fraction of `1.2345670000000003`) are a number, not an account.
pub fn scrub(text: &str) -> Cow<'_, str> {
    scrub_looking(text, Looking::IdsAndAccounts, &mut |_| ())
}

/// [`scrub`], phone numbers masked too: free text shown to readers who may not see personal
/// data (a case shared with another agency, administrators).
pub fn scrub_personal(text: &str) -> Cow<'_, str> {
    scrub_looking(text, Looking::WithPhones, &mut |_| ())
}

/// The first personal number (ID, account or phone) in `text`, if any: free text that is
/// published (trace pages) must not carry one.
pub fn find_personal_number(text: &str) -> Option<PersonalNumber> {
    let mut found = None;
    scrub_looking(text, Looking::WithPhones, &mut |kind| {
        found.get_or_insert(kind);
    });
    found
}

fn scrub_looking<'t>(text: &'t str, looking: Looking, found: &mut dyn FnMut(PersonalNumber)) -> Cow<'t, str> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let mut copied_to = 0;
    let mut token_start = None;
    let mut in_escape = false;
    let mut after_backslash = false;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        let mut separator = true;
        if i < text.len() {
            if after_backslash {
                after_backslash = false;
            } else if c == '\\' {
                after_backslash = true;
            } else if c == '\x1b' {
                in_escape = true;
            } else if in_escape {
                in_escape = !c.is_ascii_alphabetic();
            } else {
                separator = !(c.is_ascii_alphanumeric() || c == '-');
            }
        }
        match (separator, token_start) {
            (false, None) => token_start = Some(i),
            (true, Some(from)) => {
                token_start = None;
                let fraction = from >= 2 && bytes[from - 1] == b'.' && bytes[from - 2].is_ascii_digit();
                let integer_part = bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
                if fraction || integer_part {
                    continue;
                }
                if let Some((kind, masked)) = sensitive(&text[from..i], looking) {
                    found(kind);
                    out.push_str(&text[copied_to..from]);
                    out.push_str(&masked);
                    copied_to = i;
                }
            }
            _ => {}
        }
    }
    if copied_to == 0 {
        return Cow::Borrowed(text);
    }
    out.push_str(&text[copied_to..]);
    Cow::Owned(out)
}

/// A log writer that scrubs personal numbers from each formatted event before it reaches
/// stderr (the formatter writes one event per `write` call).
pub struct ScrubbingStderr;

impl std::io::Write for ScrubbingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(scrub(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// An email address shown in part: `w***@gov.cn` (the domain says which office).
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

/// Every email address inside a text, masked (audit notes written before they named people by
/// name carry addresses; the hash chain keeps the stored text as it is).
pub fn mask_emails_in(text: &str) -> Cow<'_, str> {
    static ADDRESS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}").expect("valid pattern")
    });
    ADDRESS.replace_all(text, |c: &regex::Captures<'_>| mask_email(&c[0]))
}

/// A name shown in part: enough for someone holding the document to recognise it, not enough
/// to build a register from. Long names keep two characters at each end, short ones the first.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.trim().chars().collect();
    let n = chars.len();
    let (head, tail) = match n {
        0 => return String::new(),
        1..=4 => (1, 0),
        5..=7 => (2, 1),
        _ => (2, 2),
    };
    let hidden = n - head - tail;
    chars[..head].iter().chain(std::iter::repeat_n(&'*', hidden)).chain(chars[n - tail..].iter()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn personal_numbers_are_masked_and_nothing_else() {
        let line = "saved 510104199001011234 and 11010519491231002X, account 6222021234567890123; \
                    request 0192f1c2-7a3b-7c4d-8e5f-123456789012 phone 13800138000 uscc 91510100MA6CGUR3KG";
        let clean = scrub(line);
        assert!(!clean.contains("510104199001011234"));
        assert!(clean.contains("5101**********1234"));
        assert!(clean.contains("1101**********002X"));
        assert!(clean.contains("***************0123"));
        assert!(clean.contains("0192f1c2-7a3b-7c4d-8e5f-123456789012"), "UUIDs untouched");
        assert!(clean.contains("13800138000") && clean.contains("91510100MA6CGUR3KG"));
        assert!(matches!(scrub("nothing here 12345"), Cow::Borrowed(_)));
        let escaped = r#"{"fields":{"data":"Registration { id: \"510104199001011234\" }\n510104199001011234"},"elapsed_ms":1.2345670000000003}"#;
        let clean = scrub(escaped);
        assert!(!clean.contains("510104199001011234"), "{clean}");
        assert!(clean.contains("1.2345670000000003"), "fractions are numbers: {clean}");
        assert!(serde_json::from_str::<serde_json::Value>(&clean).is_ok(), "still JSON: {clean}");
        let coloured = "\x1b[3mid\x1b[0m\x1b[2m=\x1b[0m510104199001011234\x1b[0m";
        assert_eq!(scrub(coloured), "\x1b[3mid\x1b[0m\x1b[2m=\x1b[0m5101**********1234\x1b[0m");
    }

    #[test]
    fn text_for_masked_readers_hides_phone_numbers_too() {
        let text = "联系人李伟 13800138000，座机 028-88889999，+86 13912345678；身份证510104199001011234";
        let clean = scrub_personal(text);
        for number in ["13800138000", "028-88889999", "13912345678", "510104199001011234"] {
            assert!(!clean.contains(number), "{number} in {clean}");
        }
        assert!(clean.contains("138****8000") && clean.contains("5101**********1234"), "{clean}");
        assert_eq!(
            find_personal_number("汉源花椒 500g 批次 20261204"),
            None,
            "weights and dates are not numbers of people"
        );
        assert_eq!(find_personal_number("花椒 找李伟 13800138000"), Some(PersonalNumber::Phone));
        assert_eq!(find_personal_number("acct 6222021234567890123"), Some(PersonalNumber::BankAccount));
        assert_eq!(find_personal_number("510104199001011234"), Some(PersonalNumber::ResidentId));
        assert!(scrub("phone 13800138000").contains("13800138000"), "logs keep phone numbers as they did");
    }

    #[test]
    fn emails_are_shown_in_part() {
        assert_eq!(mask_email("wang.fang@sc.gov.cn"), "w***@sc.gov.cn");
        assert_eq!(mask_emails_in("assigned to wang.fang@sc.gov.cn today"), "assigned to w***@sc.gov.cn today");
        assert!(matches!(mask_emails_in("assigned to 王芳"), Cow::Borrowed(_)));
    }

    #[test]
    fn names_are_shown_in_part() {
        assert_eq!(mask_name("成都川味花椒合作社"), "成都*****作社");
        assert_eq!(mask_name("李伟"), "李*");
        assert_eq!(mask_name("汉源花椒"), "汉***");
        assert_eq!(mask_name("Sichuan Pepper Co"), "Si*************Co");
        assert_eq!(mask_name("王"), "王");
        assert_eq!(mask_name(""), "");
    }
}
