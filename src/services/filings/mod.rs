//! Filings: the merchant's edits (`edits`), the agency's decisions (`decisions`, `approval`)
//! and the queries that read them (`queries`); what "overdue" means (`overdue`).
//!
//! Every change goes through `cases::CaseChange`. What happens when an officer approves a
//! filing: [`approval::approve_filing`] opens the change (visibility, staff, version), checks
//! the state table and who decides, and calls [`approval::approve`] — the same function an
//! automatic decision calls.

pub mod approval;
pub mod corrections;
pub mod decisions;
pub mod edits;
pub mod overdue;
pub mod queries;

pub use approval::approve_filing;
pub use decisions::{
    acknowledge_receipt, assign_filing, claim_filing, reject_filing, request_correction, transfer_filing,
};
pub use edits::{resubmit_filing, update_filing};
pub use queries::{QueueFilter, WorkloadRow, find_visible, queue_cursor, review_queue, workload};
