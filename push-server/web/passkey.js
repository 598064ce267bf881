// Passkeys (WebAuthn with the phone's platform authenticator): once registered, every answer
// carries an assertion whose challenge is SHA-256 of the very answer bytes the device key
// signs, so the phone's unlock (user verification) is bound to that decision.

import { b64, unb64, sha256 } from "./proto.js";

/** Whether this browser can make passkeys at all. */
export const supported = () => Boolean(window.PublicKeyCredential && navigator.credentials);

/** Creates a passkey from the service's registration options; returns the POST body. */
export async function create(options) {
  const cred = await navigator.credentials.create({
    publicKey: {
      challenge: unb64(options.challenge),
      rp: { id: options.rp_id, name: "pam_mfa" },
      user: { id: unb64(options.user_id), name: options.user_name, displayName: options.user_name },
      pubKeyCredParams: [{ type: "public-key", alg: -7 }],
      authenticatorSelection: {
        authenticatorAttachment: "platform",
        userVerification: "required",
        residentKey: "discouraged",
      },
      attestation: "none",
      timeout: options.timeout_ms,
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
