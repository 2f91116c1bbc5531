// The security page after a passkey is registered: reload it, to list the new passkey (and, for a first device,
// show the recovery codes that came with it).
document.addEventListener("otp_webauthn.register_complete", () => {
  window.location.assign(window.location.pathname);
});
