//! Who a user is (role) and which agency staff belong to: stored values, defined with the
//! entities so columns are typed with them.

pub use entity::enums::{Agency, Role};
