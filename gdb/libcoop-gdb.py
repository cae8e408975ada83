# SPDX-License-Identifier: MIT
"""libcoop's gdb extension: see the coroutines of a process or a core file.

    coop list [-no-scan]       every coroutine: handle, state, name, stack,
                               stack high-water mark, entry function
    coop bt [-limit N] ADDRESS backtrace of a coroutine that is not running
    coop bt [-limit N] -all    the same for every coroutine that has one

Installed next to libcoop as gdb's auto-load script
($datadir/gdb/auto-load/<real path of libcoop.so.X.Y.Z>-gdb.py); it can
also be loaded by hand with "source libcoop-gdb.py".

It needs no debug information: a packaged libcoop is stripped.  Everything
comes from the one exported data symbol coop__debug (core/registry.c): a
version, the list of coroutines, the backend's name and the offsets of the
fields of struct coop (the state of each coroutine comes from its
fields alone: "new" is one whose function has not started).  A suspended
coroutine's registers are read from its saved context:

  ucontext, sigaltstack  a glibc sigjmp_buf; glibc mangles some of its
                         pointers (PTR_MANGLE) with the process's pointer
                         guard, which is found in the thread control block
                         (x86-64), in __pointer_chk_guard (aarch64), or in
                         the AT_RANDOM bytes of the auxiliary vector;
                         riscv64's glibc mangles nothing, and musl has
                         glibc's layout, unmangled
  asm-x86_64,            backends/asm-frame.h, unmangled, with flags that
  asm-aarch64,           say how the frame was saved: 0 inside core's C
  asm-riscv64            code (the saved pc is there), or AT_CALL by the
                         fast path of coop_yield() or coop_enter()
                         (IN_ENTER) at its call, as the caller will be when
                         the call returns (the saved pc is the return
                         address, the saved sp the caller's)

"coop bt" shows the coroutine's frames by lending the saved registers, for
one backtrace, to the caller of the selected thread's innermost frame
(through a gdb.unwinder): no register is written, so it works on core
files too.  An AT_CALL frame is lent as it was at the entry of the
function called (x86-64: the stack pointer on the return address, still
in memory; aarch64, riscv64: the return address in x30 or ra), so that
gdb unwinds that function's CFI into the caller's line.
"""

import bisect
import re
import struct

import gdb
import gdb.unwinder

# Versions of coop__debug this script understands (COOP__DEBUG_VERSION).
KNOWN_VERSIONS = (2,)

# Flags of an asm backend's saved frame (backends/asm-frame.h): where
# they sit in the frame, and their bits.
FRAME_FLAGS = {"x86_64": (70, "H"), "aarch64": (176, "Q"),
               "riscv64": (216, "Q")}
FRAME_AT_CALL = 1       # saved by a fast path, as at the return of its call
FRAME_IN_ENTER = 2      # (with AT_CALL) by coop_enter()'s, else coop_yield()'s

# Frames shown by "coop bt" when no limit is given.
DEFAULT_LIMIT = 200

# Coroutines walked at most: a registry that is being changed by a thread
# of a live process, or a damaged one in a core file, may hold a cycle.
MAX_COROUTINES = 10_000_000

# Larger than any stack libcoop makes (core/stack.c: COOP__STACK_MAX, plus
# the header): a bigger one is not a coroutine.
STACK_MAX = (1 << 46) + (1 << 20)


class CoopError(gdb.GdbError):
    """An error message for the user, without a Python backtrace."""


# ------------------------------------------------------------------ helpers

def _read(addr, size):
    return gdb.selected_inferior().read_memory(addr, size).tobytes()


def _symbol_address(name):
    """Address of a symbol, from the symbol table alone (no debug info)."""
    try:
        return int(gdb.parse_and_eval("&" + name))
    except gdb.error:
        pass
    try:
        out = gdb.execute("info address " + name, to_string=True)
    except gdb.error:
        return None
    m = re.search(r" is at (0x[0-9a-fA-F]+)", out)
    return int(m.group(1), 16) if m else None


_symbol_cache = {}


def _symbol_at(addr):
    """(name, offset) of the symbol addr lies in, or (None, 0)."""
    if addr in _symbol_cache:
        return _symbol_cache[addr]
    found = (None, 0)
    if addr:
        try:
            out = gdb.execute("info symbol 0x%x" % addr, to_string=True)
        except gdb.error:
            out = ""
        m = re.match(r"(\S+)(?: \+ (\d+))? in section ", out)
        if m:
            found = (m.group(1), int(m.group(2) or 0))
    _symbol_cache[addr] = found
    return found


def _auxv(tag):
    """Value of an auxiliary vector entry (live or core), or None."""
    try:
        out = gdb.execute("info auxv", to_string=True)
    except gdb.error:
        return None
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] == tag:
            try:
                return int(fields[-1], 0)
            except ValueError:
                return None
    return None


def _size(n):
    if n is None:
        return "?"
    for unit, shift in (("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            v = n / (1 << shift)
            return ("%d %s" if v == int(v) else "%.1f %s") % (v, unit)
    return "%d B" % n


def _architecture():
    try:
        return gdb.selected_inferior().architecture()
    except (AttributeError, gdb.error):
        return gdb.newest_frame().architecture()


def _arch():
    name = _architecture().name()
    if name == "i386:x86-64":
        return "x86_64"
    if name.startswith("aarch64"):
        return "aarch64"
    if name == "riscv:rv64":
        return "riscv64"
    return name


def _riscv_regs(s, fs, **more):
    """gdb's names for riscv64's callee-saved registers s0-s11 (s0 is
    "fp") and fs0-fs11, from their saved values, plus more."""
    regs = dict(("s%d" % i, v) for i, v in enumerate(s) if i)
    regs["fp"] = s[0]
    regs.update(("fs%d" % i, v) for i, v in enumerate(fs))
    regs.update(more)
    return regs


def _little_endian():
    return "little" in gdb.execute("show endian", to_string=True)


# ----------------------------------------------------------------- registry

class Coroutine:
    """One struct coop as read from the inferior."""

    def __init__(self, addr, raw, dbg):
        self.addr = addr
        self.raw = raw
        ptr = lambda off: struct.unpack_from(dbg.end + "Q", raw, off)[0]
        self.next = ptr(dbg.off_reg_next)
        self.caller = ptr(dbg.off_caller)
        self.pooled = raw[dbg.off_pooled] != 0
        self.woken = raw[dbg.off_woken] != 0
        self.waiting_on = ptr(dbg.off_waiting_on)
        self.stack_lo = ptr(dbg.off_stack_lo)
        self.stack_size = ptr(dbg.off_stack_size)
        self.fn = ptr(dbg.off_fn)
        self.started = raw[dbg.off_started] != 0
        self.name = None
        if raw[dbg.off_has_name]:
            name = raw[dbg.off_name:dbg.off_name + 32].split(b"\0", 1)[0]
            self.name = name.decode("utf-8", "replace")
        self.ctx_off = dbg.off_ctx
        self.state = None       # filled in by Registry
        self.thread = None      # gdb thread whose stack pointer is in ours
        self.callee = None      # the coroutine we entered, when running
        self.regs = None        # saved registers, or None
        self.frame_flags = 0    # asm backends: how they were saved
        self.regs_error = None  # why there are none

    @property
    def stack_hi(self):
        return self.addr  # the stack is [stack_lo, handle)

    def plausible(self):
        return (0 < self.stack_lo < self.addr
                and self.addr - self.stack_lo <= STACK_MAX
                and 0 < self.stack_size <= self.addr - self.stack_lo)

    def on_stack(self, addr):
        return self.stack_lo <= addr <= self.stack_hi

    def label(self):
        return '"%s"' % self.name if self.name is not None else "(unnamed)"


class Registry:
    """coop__debug and the coroutines it lists."""

    def __init__(self):
        self.addr = addr = _symbol_address("coop__debug")
        if addr is None:
            raise CoopError("libcoop is not loaded in this program "
                            "(no symbol coop__debug)")
        if gdb.lookup_type("void").pointer().sizeof != 8:
            raise CoopError("this script reads 64-bit programs only")
        self.end = "<" if _little_endian() else ">"
        try:
            head = _read(addr, 8)
        except gdb.MemoryError:
            raise CoopError("cannot read coop__debug at 0x%x" % addr)
        self.version, self.coop_size = struct.unpack(self.end + "II", head)
        if self.version not in KNOWN_VERSIONS:
            raise CoopError(
                "libcoop's debugger registry (coop__debug) has version %d; "
                "this script knows version %s only: use the gdb script "
                "installed with that libcoop"
                % (self.version, ", ".join(map(str, KNOWN_VERSIONS))))
        fields = struct.unpack(self.end + "IIQQQ12H", _read(addr, 56))
        (_, _, self.head, self.count, backend_ptr,
         self.off_ctx, self.off_reg_next, self.off_caller, self.off_name,
         self.off_has_name, self.off_pooled, self.off_waiting_on,
         self.off_woken, self.off_stack_lo, self.off_stack_size,
         self.off_fn, self.off_started) = fields
        self.backend = self._read_backend(backend_ptr)
        self.arch = _arch()
        self._guards = None
        self._entries = {}
        self.coroutines = []
        self.by_addr = {}
        seen = set()
        co = self.head
        while co and co not in seen and len(seen) < MAX_COROUTINES:
            seen.add(co)
            try:
                c = Coroutine(co, _read(co, self.coop_size), self)
            except gdb.MemoryError:
                gdb.write("warning: coroutine 0x%x cannot be read; the list "
                          "stops there\n" % co)
                break
            if not c.plausible():
                gdb.write("warning: coroutine 0x%x does not look like one "
                          "(stack 0x%x-0x%x): its memory may be missing from "
                          "this core file (gdb's gcore loses stacks that "
                          "have MADV_GUARD_INSTALL guards next to them; "
                          "the kernel's core dumps keep them); the list "
                          "stops there\n"
                          % (co, c.stack_lo, c.stack_hi))
                break
            self.coroutines.append(c)
            self.by_addr[co] = c
            co = c.next
        if len(self.coroutines) != self.count and not co:
            gdb.write("warning: the registry counts %d coroutines, its list "
                      "holds %d\n" % (self.count, len(self.coroutines)))
        for c in self.coroutines:
            self._decode(c)
        self._classify()

    @staticmethod
    def _read_backend(ptr):
        """coop_backend()'s string: None before the first coroutine, ""
        when unreadable (libcoop's file is not available to gdb)."""
        if not ptr:
            return None
        try:
            name = _read(ptr, 32).split(b"\0", 1)[0]
            return name.decode("ascii", "replace")
        except gdb.MemoryError:
            return ""

    # -------------------------------------------------- saved registers

    def _pointer_guards(self):
        """Candidate values of glibc's pointer guard, most likely first."""
        if self._guards is not None:
            return self._guards
        guards = []
        if self.arch == "x86_64":
            # tcbhead_t.pointer_guard, %fs:0x30
            try:
                fs_base = int(gdb.parse_and_eval("$fs_base"))
                guards.append(struct.unpack(self.end + "Q",
                                            _read(fs_base + 0x30, 8))[0])
            except (gdb.error, gdb.MemoryError, TypeError, ValueError):
                pass
        elif self.arch == "aarch64":
            for sym in ("__pointer_chk_guard_local", "__pointer_chk_guard"):
                a = _symbol_address(sym)
                if a is not None:
                    try:
                        guards.append(struct.unpack(self.end + "Q",
                                                    _read(a, 8))[0])
                    except gdb.MemoryError:
                        pass
        # ld.so sets the guard from bytes 8-15 of AT_RANDOM
        rnd = _auxv("AT_RANDOM")
        if rnd:
            try:
                guards.append(struct.unpack(self.end + "Q",
                                            _read(rnd + 8, 8))[0])
            except gdb.MemoryError:
                pass
        self._guards = list(dict.fromkeys(guards))
        return self._guards

    def _decode(self, c):
        words = lambda n: struct.unpack_from(self.end + "%dQ" % n,
                                             c.raw, c.ctx_off)
        b = self.backend
        if b in ("ucontext", "sigaltstack"):
            self._decode_jmpbuf(c, words)
        elif b == "asm-x86_64" and self.arch == "x86_64":
            w = words(8)
            c.regs = dict(sp=w[0], pc=w[1], rbx=w[2], rbp=w[3], r12=w[4],
                          r13=w[5], r14=w[6], r15=w[7])
            c.frame_flags = self._frame_flags(c)
        elif b == "asm-aarch64" and self.arch == "aarch64":
            w = words(13)
            c.regs = dict(("x%d" % (19 + i), w[i]) for i in range(10))
            c.regs.update(x29=w[10], pc=w[11], sp=w[12])
            c.frame_flags = self._frame_flags(c)
        elif b == "asm-riscv64" and self.arch == "riscv64":
            # s0-s11, ra (the resume address), sp, fs0-fs11
            w = words(26)
            c.regs = _riscv_regs(w[0:12], w[14:26], pc=w[12], sp=w[13])
            c.frame_flags = self._frame_flags(c)
        elif not b:
            c.regs_error = ("libcoop's backend name cannot be read (is "
                            "libcoop's file available to gdb?)")
        else:
            c.regs_error = ("backend %s on %s: this script cannot read its "
                            "saved registers" % (b, self.arch))

    def _frame_flags(self, c):
        off, fmt = FRAME_FLAGS[self.arch]
        return struct.unpack_from(self.end + fmt, c.raw, c.ctx_off + off)[0]

    def _decode_jmpbuf(self, c, words):
        """glibc's __jmp_buf (sysdeps/<arch>/jmpbuf-offsets.h); musl's
        has the same registers in the same places, none mangled: tried
        when no guard gives a stack pointer on the coroutine's stack."""
        m64 = (1 << 64) - 1
        if self.arch == "x86_64":
            # rbx rbp* r12 r13 r14 r15 rsp* pc*   (* mangled: xor the
            # guard, then rotate left by 0x11)
            w = words(8)
            unmangle = lambda v, g: (((v >> 0x11) | (v << 47)) & m64) ^ g
            for g in self._pointer_guards():
                sp = unmangle(w[6], g)
                if c.on_stack(sp):
                    c.regs = dict(rbx=w[0], rbp=unmangle(w[1], g), r12=w[2],
                                  r13=w[3], r14=w[4], r15=w[5], sp=sp,
                                  pc=unmangle(w[7], g))
                    return
            if c.on_stack(w[6]):
                c.regs = dict(rbx=w[0], rbp=w[1], r12=w[2], r13=w[3],
                              r14=w[4], r15=w[5], sp=w[6], pc=w[7])
                return
        elif self.arch == "aarch64":
            # x19..x28 x29 x30* - sp* d8..d15   (* mangled: xor the guard;
            # glibc 2.36 stores x29 as it is, others may mangle it; a
            # guard of 0 is musl's plain layout)
            w = words(14)
            for g in self._pointer_guards() + [0]:
                sp = w[13] ^ g
                if c.on_stack(sp):
                    fp = w[10]
                    if fp and not c.on_stack(fp) and c.on_stack(fp ^ g):
                        fp ^= g
                    c.regs = dict(("x%d" % (19 + i), w[i]) for i in range(10))
                    c.regs.update(x29=fp, pc=w[11] ^ g, sp=sp)
                    return
        elif self.arch == "riscv64":
            # ra s0..s11 sp fs0..fs11, nothing mangled
            w = words(26)
            if c.on_stack(w[13]):
                c.regs = _riscv_regs(w[1:13], w[14:26], pc=w[0], sp=w[13])
                return
        else:
            c.regs_error = "glibc's jmp_buf on %s is not known here" % self.arch
            return
        c.regs_error = ("the saved context does not decode: glibc's pointer "
                        "guard was not found, or its jmp_buf layout is not "
                        "the one this script knows (glibc 2.36, musl)")

    # ------------------------------------------------------------ states

    def _classify(self):
        callers = {}
        for c in self.coroutines:
            if c.caller:
                callers[c.caller] = c
        if callers:
            self._find_threads()
        for c in self.coroutines:
            if c.pooled:
                c.state = "pooled"
            elif c.caller:
                c.state = "running"
                c.callee = callers.get(c.addr)
            elif c.waiting_on:
                c.state = "waiting"
            elif c.woken:
                c.state = "woken"
            else:
                c.state = "suspended" if c.started else "new"

    # ------------------------------------------------- registers to lend

    def unwind_regs(self, c):
        """The registers to lend gdb for c's backtrace: the saved ones, or,
        for an asm frame saved by a fast path at its call (AT_CALL), the
        ones at the entry of the function called, coop_yield() or
        coop_enter(), whose CFI then leads gdb to the caller's line."""
        regs = c.regs
        if not regs or not c.frame_flags & FRAME_AT_CALL:
            return regs
        entry = self._entry_pc("coop_enter" if c.frame_flags & FRAME_IN_ENTER
                               else "coop_yield")
        if entry is None:
            return regs  # the caller's frame, without the call's
        if self.arch == "x86_64":
            # The saved rsp is the caller's once the call has returned: the
            # return address (the saved rip) is still in the word below.
            ra_slot = regs["sp"] - 8
            try:
                ra = struct.unpack(self.end + "Q", _read(ra_slot, 8))[0]
            except gdb.MemoryError:
                ra = None
            if ra != regs["pc"]:
                return regs
            return dict(regs, pc=entry, sp=ra_slot)
        if self.arch == "aarch64":
            # At a function's entry the return address is in x30.
            return dict(regs, pc=entry, x30=regs["pc"])
        if self.arch == "riscv64":
            return dict(regs, pc=entry, ra=regs["pc"])
        return regs

    def _entry_pc(self, name):
        """Where to put a frame that is at the entry of libcoop's exported
        function name, or None.  Not the entry itself: gdb takes the pc of
        any frame but the innermost for a return address and looks up the
        function, CFI and line of pc - 1, which would be the bytes before
        the function.  The end of its first instruction is still at the
        entry as far as the CFI says (libcoop's fast paths change no CFI
        there: endbr64, bti or a load) and pc - 1 is inside it."""
        if name not in self._entries:
            addr = _symbol_address(name)
            # the one in libcoop, not a PLT entry of the program
            if addr is not None and (gdb.solib_name(addr)
                                     != gdb.solib_name(self.addr)):
                addr = None
            if addr is not None:
                try:
                    addr += _architecture().disassemble(addr)[0]["length"]
                except (gdb.error, gdb.MemoryError, IndexError, KeyError):
                    # riscv64: 2, the shortest (compressed) instruction
                    addr += {"aarch64": 4, "riscv64": 2}.get(self.arch, 1)
            self._entries[name] = addr
        return self._entries[name]

    def _find_threads(self):
        """Mark each coroutine whose stack a thread is running on."""
        inferior = gdb.selected_inferior()
        try:
            orig_thread = gdb.selected_thread()
        except gdb.error:
            return
        try:
            orig_frame = gdb.selected_frame()
        except gdb.error:
            orig_frame = None
        by_lo = sorted(self.coroutines, key=lambda c: c.stack_lo)
        los = [c.stack_lo for c in by_lo]
        try:
            for th in inferior.threads():
                try:
                    th.switch()
                    sp = int(gdb.newest_frame().read_register("sp"))
                except gdb.error:
                    continue
                i = bisect.bisect_right(los, sp) - 1
                if i >= 0 and sp < by_lo[i].stack_hi:
                    by_lo[i].thread = th
        finally:
            if orig_thread is not None and orig_thread.is_valid():
                orig_thread.switch()
                if orig_frame is not None:
                    try:
                        orig_frame.select()
                    except gdb.error:
                        pass

    def find(self, addr):
        c = self.by_addr.get(addr)
        if c is None:
            raise CoopError("0x%x is not a coroutine of this process "
                            "(see \"coop list\")" % addr)
        return c


# ------------------------------------------------- stack high-water mark

def _page_size():
    return _auxv("AT_PAGESZ") or 4096


def high_water(c, page):
    """(lowest non-zero address, pages that could not be read): scan the
    stack from its bottom up; untouched pages read as zero."""
    lo, hi = c.stack_lo, c.stack_hi
    chunk = max(page, 64 * 1024)
    unreadable = 0
    addr = lo
    while addr < hi:
        n = min(chunk, hi - addr)
        try:
            parts = [(addr, _read(addr, n))]
        except gdb.MemoryError:
            # core files may lack some pages: read the chunk page by page
            parts = []
            p = addr
            while p < addr + n:
                size = min(page - p % page, addr + n - p)
                try:
                    parts.append((p, _read(p, size)))
                except gdb.MemoryError:
                    unreadable += 1
                p += size
        for base, data in parts:
            rest = data.lstrip(b"\0")
            if rest:
                return base + len(data) - len(rest), unreadable
        addr += n
    return None, unreadable


# ---------------------------------------------------------------- unwinder

class _FrameId:
    def __init__(self, sp, pc):
        self.sp = sp
        self.pc = pc


class _CoroutineUnwinder(gdb.unwinder.Unwinder):
    """Lends a coroutine's saved registers to the caller of the innermost
    frame gdb asks us about, once, while "coop bt" runs.  That frame keeps
    its own identity but with stack address 0, so that gdb, which checks
    that each caller's frame is outer to (above) its callee's, accepts a
    caller on a coroutine stack anywhere in memory."""

    def __init__(self):
        super().__init__("libcoop")
        self.lend = None        # (arch, registers) for the next sniff
        self.fired_level = None

    def __call__(self, pending_frame):
        lend = self.lend
        if lend is None:
            return None
        self.lend = None
        arch, regs = lend
        pc_reg = "rip" if arch == "x86_64" else "pc"
        sp_reg = "rsp" if arch == "x86_64" else "sp"
        pc = pending_frame.read_register(pc_reg)
        zero = gdb.Value(0).cast(pending_frame.read_register(sp_reg).type)
        info = pending_frame.create_unwind_info(_FrameId(zero, pc))
        for name, value in regs.items():
            reg = {"pc": pc_reg, "sp": sp_reg}.get(name, name)
            try:
                rtype = pending_frame.read_register(reg).type
            except (gdb.error, ValueError):
                continue
            info.add_saved_register(
                reg, gdb.Value(struct.pack("<Q", value), rtype))
        try:
            self.fired_level = pending_frame.level()
        except AttributeError:
            self.fired_level = 0
        return info


_unwinder = _CoroutineUnwinder()
gdb.unwinder.register_unwinder(None, _unwinder, replace=True)


def _set_quietly(param, value):
    gdb.execute("set %s %s" % (param, value), to_string=True)


def _bool_param(name):
    return "on" if gdb.parameter(name) else "off"


def coroutine_frames(arch, regs, limit):
    """The frames of a coroutine whose saved registers are regs, as a list
    of strings, plus the reason the walk stopped (or None)."""
    try:
        sel = gdb.selected_frame()
        sel_level = sel.level()
    except gdb.error:
        raise CoopError("no frame: run the program or load a core file")
    saved = {p: _bool_param(p) for p in ("backtrace past-main",
                                         "backtrace past-entry")}
    lines = []
    stop = None
    try:
        for p in saved:
            _set_quietly(p, "on")
        _unwinder.fired_level = None
        _unwinder.lend = (arch, regs)
        gdb.invalidate_cached_frames()
        f = gdb.newest_frame()
        f.type()  # have it sniffed
        while _unwinder.fired_level is None or f.level() < _unwinder.fired_level:
            f = f.older()
            if f is None or f.level() > 64:
                raise CoopError("could not attach the coroutine's registers "
                                "to a frame of this thread")
            f.type()
        f = f.older()
        last = None
        n = 0
        while f is not None and n < limit:
            lines.append(_format_frame(n, f))
            last = f
            f = f.older()
            n += 1
        if f is not None:
            stop = "(more frames follow: use -limit)"
        elif last is not None:
            reason = last.unwind_stop_reason()
            if reason not in (gdb.FRAME_UNWIND_NO_REASON,
                              gdb.FRAME_UNWIND_OUTERMOST):
                stop = "(backtrace stopped: %s)" % gdb.frame_stop_reason_string(reason)
    finally:
        _unwinder.lend = None
        for p, v in saved.items():
            _set_quietly(p, v)
        gdb.invalidate_cached_frames()
        try:
            f = gdb.newest_frame()
            while f is not None and f.level() < sel_level:
                f = f.older()
            if f is not None:
                f.select()
        except gdb.error:
            pass
    return lines, stop


def _format_frame(n, f):
    pc = f.pc()
    # gdb names a caller frame after pc - 1; a new asm context "returns"
    # to the first byte of its entry function, which pc names.  Where
    # that function follows another with no padding (riscv64), pc - 1 is
    # the other's: the first frame at a symbol's very start is pc's.
    sym, off = _symbol_at(pc) if n == 0 else (None, 0)
    at_start = sym is not None and off == 0
    name = (sym if at_start else f.name()) or _symbol_at(pc)[0] or "??"
    args = ""
    fn = None if at_start else f.function()
    if fn is not None:
        vals = []
        try:
            block = f.block()
            while block is not None and block.function is None:
                block = block.superblock
            for sym in block or ():
                if sym.is_argument:
                    try:
                        v = f.read_var(sym).format_string(summary=True)
                    except (gdb.error, RuntimeError):
                        v = "<unavailable>"
                    vals.append("%s=%s" % (sym.print_name, v))
        except (gdb.error, RuntimeError):
            pass
        args = ", ".join(vals)
    where = ""
    sal = gdb.find_pc_line(pc) if at_start else f.find_sal()
    if sal is not None and sal.symtab is not None and sal.line:
        where = " at %s:%d" % (sal.symtab.filename, sal.line)
    else:
        lib = gdb.solib_name(pc)
        if lib:
            where = " from " + lib
    inline = " [inlined]" if f.type() == gdb.INLINE_FRAME else ""
    return "#%-3d 0x%016x in %s (%s)%s%s" % (n, pc, name, args, where, inline)


# ----------------------------------------------------------------- commands

class CoopCommand(gdb.Command):
    """libcoop coroutines: "coop list", "coop bt ADDRESS"."""

    def __init__(self):
        super().__init__("coop", gdb.COMMAND_STACK, gdb.COMPLETE_NONE, True)


class CoopListCommand(gdb.Command):
    """List every coroutine of the process: coop list [-no-scan]

Columns: the handle (coop_t *), the state, the name, the stack
[low, high) (the handle's struct sits at its top), its usable size,
the high-water mark (bytes between the lowest non-zero byte and the
top: the deepest the stack was used, unless pages were given back to
the system) with the lowest touched page, the entry function, and
where it is:

  running    entered and not yet back: on a thread (shown), or inside its
             own coop_enter() of another coroutine (shown)
  suspended  yielded; "coop bt" shows where
  new        created (or taken from a pool), its function not started yet
  waiting    asleep in a queue, mutex or rwlock (shown)
  woken      on a wake-up list, runs when its waker yields or finishes
  pooled     finished, kept for reuse

-no-scan skips reading the stacks (the high-water marks), which is
slow for many large stacks."""

    def __init__(self):
        super().__init__("coop list", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        try:
            self._list(arg)
        except CoopError:
            raise
        except gdb.error as e:  # no process, unreadable memory...
            raise CoopError(str(e))

    def _list(self, arg):
        argv = gdb.string_to_argv(arg)
        scan = True
        for a in argv:
            if a in ("-no-scan", "--no-scan"):
                scan = False
            else:
                raise CoopError("usage: coop list [-no-scan]")
        _symbol_cache.clear()
        reg = Registry()
        gdb.write("libcoop: %d coroutine%s, backend %s\n"
                  % (len(reg.coroutines), "" if len(reg.coroutines) == 1
                     else "s", reg.backend or ("(unreadable)" if reg.backend
                                               == "" else "(none yet)")))
        if not reg.coroutines:
            return
        page = _page_size() if scan else 0
        if scan and len(reg.coroutines) > 1000:
            gdb.write("(reading %d stacks for their high-water marks; "
                      "\"coop list -no-scan\" skips that)\n"
                      % len(reg.coroutines))
        rows = [("HANDLE", "STATE", "NAME", "STACK", "SIZE", "USED",
                 "LOWEST PAGE", "FUNCTION", "WHERE")]
        unreadable_total = 0
        for c in reg.coroutines:
            used = low = "-"
            if scan:
                first, unreadable = high_water(c, page)
                unreadable_total += unreadable
                if first is None:
                    used, low = "0 B", "-"
                else:
                    used = _size(c.stack_hi - first)
                    low = "0x%x" % (first - first % page)
                if unreadable:
                    used += " (%d pages unreadable)" % unreadable
            fn = _symbol_at(c.fn)[0] or ("0x%x" % c.fn if c.fn else "-")
            rows.append(("0x%x" % c.addr, c.state,
                         c.name if c.name is not None else "-",
                         "0x%x-0x%x" % (c.stack_lo, c.stack_hi),
                         _size(c.stack_size), used, low, fn,
                         self._where(reg, c)))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            gdb.write("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip()
                      + "\n")
        if unreadable_total:
            gdb.write("(pages that cannot be read, as in a core file that "
                      "left them out, count as untouched)\n")

    @staticmethod
    def _where(reg, c):
        if c.state == "running":
            parts = []
            if c.thread is not None:
                parts.append("on thread %d" % c.thread.num)
            callee = c.callee
            if callee is not None:
                parts.append("entered 0x%x %s" % (callee.addr, callee.label()))
            return ", ".join(parts) or "-"
        if c.state == "waiting":
            sym, off = _symbol_at(c.waiting_on)
            if sym:
                return "on %s%s" % (sym, "+%d" % off if off else "")
            return "on 0x%x" % c.waiting_on
        return "-"


class CoopBtCommand(gdb.Command):
    """Backtrace of a coroutine: coop bt [-limit N] ADDRESS | coop bt [-limit N] -all

ADDRESS is an expression for the coroutine's handle (coop_t *), as
"coop list" shows it.  The coroutine must not be running on a thread
(use "thread N" and "bt" for that one).  A suspended, waiting or woken
coroutine shows its frames down to the function of libcoop that switched
away (mostly coop_yield()), one that entered another down to
coop_enter(), a new one its start only.  -all prints the backtrace of
every coroutine that is not running on a thread and not pooled.  At most
N frames (default 200) are shown."""

    def __init__(self):
        super().__init__("coop bt", gdb.COMMAND_STACK, gdb.COMPLETE_EXPRESSION)

    def invoke(self, arg, from_tty):
        try:
            self._bt(arg)
        except CoopError:
            raise
        except gdb.error as e:  # no process, unreadable memory...
            raise CoopError(str(e))

    def _bt(self, arg):
        usage = "usage: coop bt [-limit N] ADDRESS | coop bt [-limit N] -all"
        rest = arg.strip()
        limit = DEFAULT_LIMIT
        every = False
        while rest.startswith("-"):
            word, _, tail = rest.partition(" ")
            if word in ("-all", "--all"):
                every = True
            elif word in ("-limit", "--limit"):
                num, _, tail = tail.strip().partition(" ")
                try:
                    limit = int(num, 0)
                except ValueError:
                    raise CoopError(usage)
            else:
                break  # an expression such as -1
            rest = tail.strip()
        if bool(rest) == every:
            raise CoopError(usage)
        _symbol_cache.clear()
        reg = Registry()
        if every:
            todo = [c for c in reg.coroutines
                    if c.thread is None and c.state != "pooled"]
            for i, c in enumerate(todo):
                if i:
                    gdb.write("\n")
                self._one(reg, c, limit)
            return
        try:
            addr = int(gdb.parse_and_eval(rest))
        except gdb.error as e:
            raise CoopError(str(e))
        self._one(reg, reg.find(addr), limit)

    @staticmethod
    def _one(reg, c, limit):
        gdb.write("coroutine 0x%x %s, %s, stack 0x%x-0x%x\n"
                  % (c.addr, c.label(), c.state, c.stack_lo, c.stack_hi))
        if c.thread is not None:
            gdb.write("  running on thread %d: its registers are live, use "
                      "\"thread %d\" and \"bt\"\n" % (c.thread.num, c.thread.num))
            return
        if c.regs is None:
            raise CoopError(c.regs_error or "no saved registers")
        if c.state == "pooled":
            gdb.write("  (finished: its saved context is the pool's, not "
                      "a user function's)\n")
        lines, stop = coroutine_frames(reg.arch, reg.unwind_regs(c), limit)
        for line in lines:
            gdb.write(line + "\n")
        if stop:
            gdb.write(stop + "\n")


CoopCommand()
CoopListCommand()
CoopBtCommand()
