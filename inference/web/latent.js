// Seeds to latent vectors in the browser, as the Python tools make them (inference/runtime.py `latents`):
// numpy's Generator(PCG64(seed)).standard_normal((count, latent)) * truncation, as float32. numpy's
// SeedSequence seeding, PCG64 (XSL-RR 128/64) and its 256-level ziggurat for the normal are reproduced
// here with BigInt arithmetic, so the same seed gives the same image in the page, the dashboard and
// `python -m inference.generate` (tests/inference/test_web.py compares this file with numpy under node).

const M32 = 0xffffffffn;
const M64 = (1n << 64n) - 1n;
const M128 = (1n << 128n) - 1n;
const PCG_MULT = 0x2360ed051fc65da44385df649fccf645n;

function mul32(a, b) {
  return Number((BigInt(a) * BigInt(b)) & M32);
}

// numpy's SeedSequence(seed).generate_state(8) as 32-bit words (pool of 4, O'Neill's seed_seq mixing).
function seedWords(seed) {
  const entropy = [];
  let n = BigInt(seed);
  do {
    entropy.push(Number(n & M32));
    n >>= 32n;
  } while (n > 0n);
  let hash = 0x43b0d7e5;
  const hashmix = (value) => {
    value = (value ^ hash) >>> 0;
    hash = mul32(hash, 0x931e8875);
    value = mul32(value, hash);
    return (value ^ (value >>> 16)) >>> 0;
  };
  const mix = (x, y) => {
    const r = Number((0xca01f9ddn * BigInt(x) - 0x4973f715n * BigInt(y)) & M32);
    return (r ^ (r >>> 16)) >>> 0;
  };
  const pool = [0, 1, 2, 3].map((i) => hashmix(i < entropy.length ? entropy[i] : 0));
  for (let s = 0; s < 4; s++) for (let d = 0; d < 4; d++) if (s !== d) pool[d] = mix(pool[d], hashmix(pool[s]));
  for (let s = 4; s < entropy.length; s++) for (let d = 0; d < 4; d++) pool[d] = mix(pool[d], hashmix(entropy[s]));
  let h = 0x8b51f9dd;
  const words = [];
  for (let i = 0; i < 8; i++) {
    let v = (pool[i % 4] ^ h) >>> 0;
    h = mul32(h, 0x58f38ded);
    v = mul32(v, h);
    words.push((v ^ (v >>> 16)) >>> 0);
  }
  return words;
}

class PCG64 {
  constructor(seed) {
    const w = seedWords(seed).map(BigInt);
    const u64 = [0, 1, 2, 3].map((i) => w[2 * i] | (w[2 * i + 1] << 32n));
    const initstate = (u64[0] << 64n) | u64[1];
    const initseq = (u64[2] << 64n) | u64[3];
    this.inc = ((initseq << 1n) | 1n) & M128;
    this.state = 0n;
    this.step();
    this.state = (this.state + initstate) & M128;
    this.step();
  }
  step() {
    this.state = (this.state * PCG_MULT + this.inc) & M128;
  }
  next64() {
    this.step();
    const s = this.state;
    const x = ((s >> 64n) ^ s) & M64;
    const rot = s >> 122n;
    return ((x >> rot) | (x << ((64n - rot) & 63n))) & M64;
  }
  nextDouble() {
    return Number(this.next64() >> 11n) / 9007199254740992;
  }
}

// Marsaglia & Tsang's ziggurat tables as numpy lays them out for 52-bit mantissas.
const R = 3.6541528853610087963519472518;
const AREA = 0.0049286732339746519;
const [KI, WI, FI] = (() => {
  const two52 = 2 ** 52;
  const ki = new Array(256).fill(0);
  const wi = new Array(256).fill(0);
  const fi = new Array(256).fill(0);
  let dn = R;
  let tn = dn;
  const q = AREA / Math.exp(-0.5 * dn * dn);
  ki[0] = Math.floor((dn / q) * two52);
  wi[0] = q / two52;
  wi[255] = dn / two52;
  fi[0] = 1;
  fi[255] = Math.exp(-0.5 * dn * dn);
  for (let i = 254; i >= 1; i--) {
    dn = Math.sqrt(-2 * Math.log(AREA / dn + Math.exp(-0.5 * dn * dn)));
    ki[i + 1] = Math.floor((dn / tn) * two52);
    tn = dn;
    fi[i] = Math.exp(-0.5 * dn * dn);
    wi[i] = dn / two52;
  }
  return [ki, wi, fi];
})();

function standardNormal(g) {
  for (;;) {
    let r = g.next64();
    const idx = Number(r & 0xffn);
    r >>= 8n;
    const sign = r & 1n;
    const rabs = Number((r >> 1n) & 0x000fffffffffffffn);
    let x = rabs * WI[idx];
    if (sign) x = -x;
    if (rabs < KI[idx]) return x;
    if (idx === 0) {
      for (;;) {
        const xx = -(1 / R) * Math.log1p(-g.nextDouble());
        const yy = -Math.log1p(-g.nextDouble());
        if (yy + yy > xx * xx) return (rabs / 256) % 2 >= 1 ? -(R + xx) : R + xx;
      }
    } else if ((FI[idx - 1] - FI[idx]) * g.nextDouble() + FI[idx] < Math.exp(-0.5 * x * x)) {
      return x;
    }
  }
}

// (count * latentDim) float32 values, row by row: the latent vectors of `count` images for `seed`.
export function latents(seed, count, latentDim, truncation = 1.0) {
  const g = new PCG64(seed);
  const out = new Float32Array(count * latentDim);
  for (let i = 0; i < out.length; i++) out[i] = standardNormal(g) * truncation;
  return out;
}
