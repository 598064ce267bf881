//! Importing enrollments from other PAM modules, so sites migrate without re-enrolling.

pub mod google_authenticator;
