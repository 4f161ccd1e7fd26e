/**
 * Password generation for the credentials the operator owns (ARCHITECTURE.md section 3). Kept out
 * of render/ (which is pure): the hook context injects it, so rendering is deterministic given
 * its inputs and tests pass their own generator.
 */
import { randomInt } from "node:crypto";

const ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
const PASSWORD_LENGTH = 32;

/** A password of 32 characters from a 57-symbol alphabet (~186 bits), from node:crypto's CSPRNG. */
export function generatePassword(): string {
  let out = "";
  for (let i = 0; i < PASSWORD_LENGTH; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}
