//! Values that are validated once, at construction ("parse, don't validate"): the rest of the
//! code can only hold valid ones.

pub mod case_profile;
pub mod certificates;
pub mod decision_facts;
pub mod draws;
pub mod email;
pub mod filing_data;
pub mod gtin;
pub mod identifiers;
pub mod labels;
pub mod password;
pub mod pii;
pub mod region;
pub mod region_names;
pub mod requirements;
pub mod role;
pub mod rule_cost;
pub mod rules;
pub mod uscc;
pub mod workflow;
pub mod working_days;

pub use email::Email;
pub use region::{RegionCode, Regions};
pub use role::{Agency, Role};
pub use uscc::Uscc;
pub use workflow::{CaseStatus, FilingKind, FilingStatus, Transition};
