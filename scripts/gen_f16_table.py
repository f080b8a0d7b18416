# Every float16 bit pattern as numpy converts it to float32, little-endian, one after another
# (65,536 × 4 bytes): the reference the safetensors F16 decoder is tested against, committed so
# tests need no Python. Run with Debian's numpy: /usr/bin/python3 scripts/gen_f16_table.py
import pathlib
import numpy

out = pathlib.Path(__file__).resolve().parent.parent / 'test' / 'fixtures' / 'numpy' / 'float16-to-float32.bin'
out.parent.mkdir(parents=True, exist_ok=True)
out.write_bytes(numpy.arange(65536, dtype=numpy.uint16).view(numpy.float16).astype('<f4').tobytes())
print(f'wrote {out} ({out.stat().st_size} bytes)')
