#!/usr/bin/env bash
# Static estimates of every candidate register tile's inner loop, on any x86-64 machine: the
# loop the tile sweep times (`nin-bench tiles`), compiled for a CPU model, through llvm-mca.
#
#   scripts/mca.sh            AVX2 (pulp V3) for znver3 and AVX-512 (pulp V4) for skylake-avx512
#   scripts/mca.sh avx512     one ISA only (avx2 or avx512)
#
# For each ISA it builds the library with `--cfg nin_bench_mca` (which exports one function per
# candidate tile and ISA, `nin_bench_mca_v4_6x2` for 6 rows × 2 vectors on AVX-512) and
# `-C target-cpu=<model>`, in target/mca-<isa>, emits its assembly, takes from each exported
# function its innermost loop with the most FMAs, and prints llvm-mca's estimate for that
# loop: cycles per iteration (block reciprocal throughput), FMAs per iteration and per cycle,
# and the loop's stack loads and stores (a tile that spills its accumulators shows them).
#
# What llvm-mca knows is its scheduling model, not the machine: LLVM 14's Zen 3 model gives
# the FMA one pipe where the hardware has two (FMA0/FMA1), so its AVX2 figures under-count
# FMA throughput by up to half; compare tiles with each other, and trust `nin-bench tiles` for
# the measured shares (docs/tuning.md). Needs llvm-mca-14 (Debian: apt-get install llvm-14).
set -euo pipefail
cd "$(dirname "$0")/.."

mca=${LLVM_MCA:-llvm-mca-14}
if ! command -v "$mca" >/dev/null 2>&1; then
  echo "$mca not found: install it (Debian: apt-get install llvm-14) or set LLVM_MCA" >&2
  exit 2
fi

case "${1:-all}" in
  all) isas="avx2 avx512" ;;
  avx2|avx512) isas="$1" ;;
  *) echo "usage: scripts/mca.sh [avx2|avx512]" >&2; exit 2 ;;
esac

for isa in $isas; do
  case $isa in
    avx2) cpu=znver3; prefix=nin_bench_mca_v3_ ;;
    avx512) cpu=skylake-avx512; prefix=nin_bench_mca_v4_ ;;
  esac
  dir="target/mca-$isa"
  echo "== $isa: building the tile loops for -C target-cpu=$cpu (in $dir)" >&2
  rm -f "$dir"/release/deps/nin_bench-*.s
  RUSTFLAGS="--cfg nin_bench_mca -C target-cpu=$cpu" \
    cargo rustc --quiet --release --lib --target-dir "$dir" -- --emit asm -C codegen-units=1
  asm=$(ls -t "$dir"/release/deps/nin_bench-*.s | head -1)
  echo "== $isa: llvm-mca -mcpu=$cpu, innermost FMA loop of each candidate tile"
  python3 - "$asm" "$prefix" "$mca" "$cpu" <<'PY'
import re, subprocess, sys

asm_path, prefix, mca, cpu = sys.argv[1:]
lines = open(asm_path).read().splitlines()

# Each exported tile function: from its label to the next `.cfi_endproc`.
functions = {}
for i, line in enumerate(lines):
    m = re.match(r'^(' + re.escape(prefix) + r'(\d+)x(\d+)):', line)
    if m:
        end = next(j for j in range(i, len(lines)) if '.cfi_endproc' in lines[j])
        functions[(int(m.group(2)), int(m.group(3)))] = lines[i + 1:end]

def instructions(block):
    return [l.strip() for l in block if l.startswith('\t') and not l.strip().startswith('.') and l.strip()]

def best_loop(body):
    """The loop (a label and a later jump back to it) with the most FMAs and no inner loop."""
    labels = {}
    best = None
    for i, line in enumerate(body):
        m = re.match(r'^(\.LBB\w+):', line)
        if m:
            labels[m.group(1)] = i
        m = re.match(r'^\s+j\w+\s+(\.LBB\w+)', line)
        if m and m.group(1) in labels:
            block = body[labels[m.group(1)] + 1:i + 1]
            if any(re.match(r'^\s+j\w+\s+(\.LBB\w+)', l) and re.match(r'^\s+j\w+\s+(\.LBB\w+)', l).group(1) in labels
                   and labels[re.match(r'^\s+j\w+\s+(\.LBB\w+)', l).group(1)] > labels[m.group(1)]
                   for l in block[:-1]):
                continue  # it holds a loop of its own
            fmas = sum(1 for l in instructions(block) if 'vfmadd' in l or 'vfnmadd' in l)
            if best is None or fmas > best[0]:
                best = (fmas, instructions(block))
    return best

print(f"{'tile':>6} {'regs':>4} {'cycles/iter':>11} {'FMAs/iter':>9} {'FMAs/cycle':>10} {'stack ld/st':>11}")
lanes = 16 if prefix.endswith('v4_') else 8
for (rows, vectors) in sorted(functions):
    found = best_loop(functions[(rows, vectors)])
    name = f"{rows}x{vectors * lanes}"
    if not found or found[0] == 0:
        print(f"{name:>6}  (no FMA loop found)")
        continue
    fmas, loop = found
    out = subprocess.run([mca, f'-mcpu={cpu}', '-iterations=200'], input='\n'.join(loop) + '\n',
                         capture_output=True, text=True, check=True).stdout
    rthroughput = float(re.search(r'Block RThroughput:\s+([\d.]+)', out).group(1))
    cycles = int(re.search(r'Total Cycles:\s+(\d+)', out).group(1)) / 200
    stack = sum(1 for l in loop if re.search(r'\(%rsp\)|\(%rbp\)', l) and not l.startswith('lea'))
    registers = rows * vectors + vectors + 1
    print(f"{name:>6} {registers:>4} {cycles:>11.2f} {fmas:>9} {fmas / cycles:>10.2f} {stack:>11}"
          f"   (block reciprocal throughput {rthroughput:.2f})")
PY
done
