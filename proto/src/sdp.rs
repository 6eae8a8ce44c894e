//! The server's plausibility check of an SDP offer handed to WHEP. The agent does the real
//! parsing; this only refuses what cannot be an offer before it travels to the agent. Plain
//! code here so the fuzz targets can reach it without the server.

/// Why an offer was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SdpError {
    NotUtf8,
    NoVersion,
    NoVideo,
}

impl std::fmt::Display for SdpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotUtf8 => "the offer is not UTF-8",
            Self::NoVersion => "the offer does not start with v=0",
            Self::NoVideo => "the offer has no video media section",
        })
    }
}

impl std::error::Error for SdpError {}

/// The offer as text, if it is UTF-8, starts with `v=0` and has a video section.
pub fn check_offer_sdp(body: &[u8]) -> Result<&str, SdpError> {
    let sdp = std::str::from_utf8(body).map_err(|_| SdpError::NotUtf8)?;
    if !sdp.starts_with("v=0") {
        return Err(SdpError::NoVersion);
    }
    if !sdp.lines().any(|line| line.starts_with("m=video")) {
        return Err(SdpError::NoVideo);
    }
    Ok(sdp)
}
