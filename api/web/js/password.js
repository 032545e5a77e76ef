// A rough password strength estimate, for a hint, not a guarantee.

/**
 * strength estimates entropy bits from length and character classes,
 * with penalties for repeats and very common passwords, and says what it
 * means given that the key is stretched with Argon2id.
 */
export function strength(pw) {
  if (!pw) {
    return { score: 0, level: "", text: "No password: anyone with stegocluster can extract the secret." };
  }
  let pool = 0;
  if (/[a-z]/.test(pw)) pool += 26;
  if (/[A-Z]/.test(pw)) pool += 26;
  if (/[0-9]/.test(pw)) pool += 10;
  if (/[^a-zA-Z0-9]/.test(pw)) pool += 33;
  const unique = new Set(pw).size;
  let bits = Math.log2(Math.max(pool, 2)) * Math.min(pw.length, unique * 2);
  if (/^(password|123456|qwerty|letmein|hunter2|admin|secret)/i.test(pw)) bits = Math.min(bits, 10);
  if (bits < 40) {
    return { score: Math.max(0.12, bits / 100), level: "weak", text: `Weak (about ${Math.round(bits)} bits): guessable. Use a longer phrase.` };
  }
  if (bits < 65) {
    return { score: bits / 100, level: "fair", text: `Fair (about ${Math.round(bits)} bits). A few more words make it strong.` };
  }
  return { score: Math.min(1, bits / 100), level: "good", text: `Strong (about ${Math.round(bits)} bits), and Argon2id makes every guess slow.` };
}
