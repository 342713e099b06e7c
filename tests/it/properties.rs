//! Property tests of the validators (DESIGN.md, "Identifiers"): values built by the algorithm
//! pass; any single-character change that leaves the format's alphabet, or (for the check-digit
//! codes) any change at all, fails.

use onestop::domain::{
    Regions, Uscc,
    identifiers::{self, CURRENCIES},
    uscc::check_character,
};
use proptest::prelude::*;
use rust_decimal::Decimal;

const USCC_ALPHABET: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

fn uscc() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(USCC_ALPHABET), 17).prop_map(|first17| {
        let check = check_character(&first17).expect("alphabet");
        let mut code = first17;
        code.push(check);
        String::from_utf8(code).expect("ascii")
    })
}

fn resident_id() -> impl Strategy<Value = String> {
    proptest::collection::vec(b'0'..=b'9', 17).prop_map(|first17| {
        let check = identifiers::resident_id_check(&first17);
        let mut id = first17;
        id.push(check);
        String::from_utf8(id).expect("ascii")
    })
}

/// The same string with the character at `at` replaced by `with` (which must differ from it,
/// also ignoring case, since the validators normalise case).
fn replaced(value: &str, at: usize, with: char) -> Option<String> {
    let mut chars: Vec<char> = value.chars().collect();
    let at = at % chars.len();
    if chars[at].eq_ignore_ascii_case(&with) {
        return None;
    }
    chars[at] = with;
    Some(chars.into_iter().collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn uscc_built_by_the_algorithm_passes_and_any_change_fails(code in uscc(), at in 0usize..18, with in any::<char>()) {
        prop_assert!(Uscc::parse("uscc", &code).is_ok(), "{code}");
        prop_assert!(Uscc::parse("uscc", &code.to_lowercase()).is_ok(), "case does not matter");
        if let Some(changed) = replaced(&code, at, with) {
            prop_assert!(Uscc::parse("uscc", &changed).is_err(), "{code} → {changed}");
        }
        prop_assert!(Uscc::parse("uscc", &code[..17]).is_err(), "one short");
        let longer = format!("{code}0");
        prop_assert!(Uscc::parse("uscc", &longer).is_err(), "one long");
    }

    #[test]
    fn resident_id_built_by_the_algorithm_passes_and_any_change_fails(id in resident_id(), at in 0usize..18, with in any::<char>()) {
        prop_assert!(identifiers::resident_id("id", &id).is_ok(), "{id}");
        if let Some(changed) = replaced(&id, at, with) {
            prop_assert!(identifiers::resident_id("id", &changed).is_err(), "{id} → {changed}");
        }
        prop_assert!(identifiers::resident_id("id", &id[..17]).is_err());
    }

    #[test]
    fn hs_codes_and_customs_districts_are_exactly_digits(
        code in "[0-9]{10}", district in "[0-9]{4}", at in 0usize..10, with in any::<char>().prop_filter("not a digit", |c| !c.is_ascii_digit()),
    ) {
        prop_assert!(identifiers::hs_code("hs", &code).is_ok());
        prop_assert!(identifiers::customs_district("d", &district).is_ok());
        if let Some(changed) = replaced(&code, at, with) {
            prop_assert!(identifiers::hs_code("hs", &changed).is_err(), "{changed}");
        }
        if let Some(changed) = replaced(&district, at, with) {
            prop_assert!(identifiers::customs_district("d", &changed).is_err(), "{changed}");
        }
        prop_assert!(identifiers::hs_code("hs", &code[..9]).is_err());
        let longer = format!("{district}1");
        prop_assert!(identifiers::customs_district("d", &longer).is_err());
    }

    #[test]
    fn region_codes_must_be_six_digits_in_a_served_province(
        province in proptest::sample::select(onestop::domain::region::DEFAULT_WESTERN_PROVINCES),
        rest in "[0-9]{4}", at in 0usize..6, with in any::<char>().prop_filter("not a digit", |c| !c.is_ascii_digit()),
        other in 10u32..=99,
    ) {
        let regions = Regions::default();
        let code = format!("{province}{rest}");
        prop_assert!(regions.parse("r", &code).is_ok(), "{code}");
        if let Some(changed) = replaced(&code, at, with) {
            prop_assert!(regions.parse("r", &changed).is_err(), "{changed}");
        }
        let elsewhere = format!("{other}{rest}");
        let served = onestop::domain::region::DEFAULT_WESTERN_PROVINCES.contains(&other.to_string().as_str());
        prop_assert_eq!(regions.parse("r", &elsewhere).is_ok(), served, "{}", elsewhere);
    }

    #[test]
    fn currencies_are_the_iso_4217_list(code in proptest::sample::select(CURRENCIES), guess in "[A-Za-z]{3}", at in 0usize..3, with in any::<char>().prop_filter("not a letter", |c| !c.is_ascii_alphabetic())) {
        prop_assert!(identifiers::currency("c", code).is_ok());
        prop_assert!(identifiers::currency("c", &code.to_lowercase()).is_ok());
        let listed = CURRENCIES.contains(&guess.to_uppercase().as_str());
        prop_assert_eq!(identifiers::currency("c", &guess).is_ok(), listed, "{}", guess);
        if let Some(changed) = replaced(code, at, with) {
            prop_assert!(identifiers::currency("c", &changed).is_err(), "{changed}");
        }
    }

    #[test]
    fn amounts_are_positive_with_two_decimals_below_a_quadrillion(
        cents in 1i64..100_000_000_000_000_000, extra_digit in 1i64..=9, negative in any::<bool>(),
    ) {
        let amount = Decimal::new(cents, 2);
        prop_assert!(identifiers::positive_amount("a", &amount).is_ok(), "{amount}");
        // A third significant decimal place, a sign, or 10^15 and more: refused.
        let three_places = Decimal::new(cents * 10 + extra_digit, 3);
        prop_assert!(identifiers::positive_amount("a", &three_places).is_err(), "{three_places}");
        if negative {
            prop_assert!(identifiers::positive_amount("a", &-amount).is_err());
        }
        let huge = Decimal::new(1_000_000_000_000_000, 0) + amount;
        prop_assert!(identifiers::positive_amount("a", &huge).is_err(), "{huge}");
    }
}

#[test]
fn zero_is_not_an_amount() {
    assert!(identifiers::positive_amount("a", &Decimal::ZERO).is_err());
}
