//! What a browser talks to besides the API: the OpenID Connect login
//! under `/auth` and the RFC 9728 metadata under `/.well-known`.

pub mod login;
pub mod well_known;
