// Passkeys (WebAuthn with the phone's platform authenticator), made while pairing: the
// registration's challenge binds the passkey to the pairing credential and this device's key,
// the host that paired the phone keeps its public key (confirmed by the pairing code, which
// covers it), and every answer carries an assertion whose challenge is SHA-256 of the very
// answer bytes the device key signs, so the phone's unlock is bound to that decision and
// checked by the host itself.

import { b64, passkeyPairingChallenge, sha256, unb64 } from "./proto.js";

/** Whether this browser can make passkeys at all. */
export const supported = () => Boolean(window.PublicKeyCredential && navigator.credentials);

/** Whether this device has a platform authenticator that verifies the user (the default). */
export async function available() {
  try {
    return supported() && (await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable());
  } catch {
    return false;
  }
}

/** Makes a passkey for this pairing; returns the pair request's `passkey` field. */
export async function createForPairing(credential, publicKey, name) {
  const cred = await navigator.credentials.create({
    publicKey: {
      challenge: await passkeyPairingChallenge(credential, publicKey),
      rp: { id: location.hostname, name: "pam_mfa" },
      user: { id: crypto.getRandomValues(new Uint8Array(16)), name, displayName: name },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      authenticatorSelection: {
        authenticatorAttachment: "platform",
        userVerification: "required",
        residentKey: "discouraged",
      },
      attestation: "none",
      timeout: 120000,
    },
  });
  return {
    credential_id: b64(cred.rawId),
    attestation_object: b64(cred.response.attestationObject),
    client_data_json: b64(cred.response.clientDataJSON),
  };
}

/** Signs `answerBytes` with the passkey (after the phone's unlock); the `passkey` field. */
export async function assertAnswer(credentialId, rpId, answerBytes) {
  const cred = await navigator.credentials.get({
    publicKey: {
      challenge: await sha256(answerBytes),
      rpId,
      allowCredentials: [{ type: "public-key", id: unb64(credentialId) }],
      userVerification: "required",
      timeout: 60000,
    },
  });
  return {
    credential_id: b64(cred.rawId),
    authenticator_data: b64(cred.response.authenticatorData),
    client_data_json: b64(cred.response.clientDataJSON),
    signature: b64(cred.response.signature),
  };
}
