/* Preloaded by `python -m benchmarks.slow_machine --avx2`: hides AVX-512 (and AMX, AVX-VNNI) from every CPUID
 * the process executes, so libraries that pick their kernels at run time (ONNX Runtime's MLAS, oneDNN,
 * PyTorch's ATen) take the AVX2 paths an AVX2-only machine runs.
 * Linux's CPUID faulting (arch_prctl ARCH_SET_CPUID) makes each CPUID trap; the SIGSEGV handler runs the
 * real instruction, clears the bits and steps over it. Handlers the program installs for SIGSEGV are kept
 * and called for every other fault. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define ARCH_SET_CPUID 0x1012

static struct sigaction program_handler; /* what the program asked for SIGSEGV (default at first) */
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);

static void cpuid_enabled(int on) { syscall(SYS_arch_prctl, ARCH_SET_CPUID, on); }

static void real_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static void mask(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    if (leaf == 7 && sub == 0) {
        /* EBX: AVX512 F, DQ, IFMA, PF, ER, CD, BW, VL */
        r[1] &= ~((1u << 16) | (1u << 17) | (1u << 21) | (1u << 26) | (1u << 27) | (1u << 28) | (1u << 30) | (1u << 31));
        /* ECX: AVX512 VBMI, VBMI2, VNNI, BITALG, VPOPCNTDQ */
        r[2] &= ~((1u << 1) | (1u << 6) | (1u << 11) | (1u << 12) | (1u << 14));
        /* EDX: AVX512 4VNNIW, 4FMAPS, VP2INTERSECT, AMX-BF16, AVX512-FP16, AMX-TILE, AMX-INT8 */
        r[3] &= ~((1u << 2) | (1u << 3) | (1u << 8) | (1u << 22) | (1u << 23) | (1u << 24) | (1u << 25));
    } else if (leaf == 7 && sub == 1) {
        /* EAX: AVX-VNNI, AVX512-BF16, AMX-FP16 */
        r[0] &= ~((1u << 4) | (1u << 5) | (1u << 21));
    } else if (leaf == 0xD && sub == 0) {
        /* XSAVE state components: no opmask/ZMM (bits 5-7), no AMX tiles (17, 18) */
        r[0] &= ~((1u << 5) | (1u << 6) | (1u << 7) | (1u << 17) | (1u << 18));
    }
}

static void on_segv(int sig, siginfo_t *info, void *context) {
    ucontext_t *uc = context;
    greg_t *g = uc->uc_mcontext.gregs;
    const unsigned char *ip = (const unsigned char *)g[REG_RIP];
    if (ip && ip[0] == 0x0F && ip[1] == 0xA2) {
        uint32_t r[4], leaf = (uint32_t)g[REG_RAX], sub = (uint32_t)g[REG_RCX];
        cpuid_enabled(1);
        real_cpuid(leaf, sub, r);
        cpuid_enabled(0);
        mask(leaf, sub, r);
        g[REG_RAX] = r[0]; g[REG_RBX] = r[1]; g[REG_RCX] = r[2]; g[REG_RDX] = r[3];
        g[REG_RIP] += 2;
        return;
    }
    if (program_handler.sa_flags & SA_SIGINFO) {
        program_handler.sa_sigaction(sig, info, context);
    } else if (program_handler.sa_handler != SIG_DFL && program_handler.sa_handler != SIG_IGN) {
        program_handler.sa_handler(sig);
    } else {
        struct sigaction dfl = {0};
        dfl.sa_handler = SIG_DFL;
        real_sigaction(SIGSEGV, &dfl, NULL);
        if (info->si_code <= 0) raise(sig); /* sent (kill, raise): deliver it again, now to the default action */
        /* a real fault repeats on return and ends the process as usual */
    }
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
    if (!real_sigaction) real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    if (sig != SIGSEGV) return real_sigaction(sig, act, old);
    if (old) *old = program_handler;
    if (act) program_handler = *act;
    return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
    if (sig != SIGSEGV) {
        struct sigaction act = {0}, old;
        act.sa_handler = handler;
        act.sa_flags = SA_RESTART;
        sigemptyset(&act.sa_mask);
        return sigaction(sig, &act, &old) == 0 ? old.sa_handler : SIG_ERR;
    }
    sighandler_t before = program_handler.sa_handler;
    memset(&program_handler, 0, sizeof program_handler);
    program_handler.sa_handler = handler;
    return before;
}

__attribute__((constructor)) static void hide_avx512(void) {
    real_sigaction = dlsym(RTLD_NEXT, "sigaction");
    program_handler.sa_handler = SIG_DFL;
    struct sigaction act = {0};
    act.sa_sigaction = on_segv;
    act.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&act.sa_mask);
    real_sigaction(SIGSEGV, &act, NULL);
    if (syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
        /* unmasked figures would pass for masked ones: refuse to run instead */
        static const char message[] = "cpuid_avx2: this kernel refused CPUID faulting (arch_prctl ARCH_SET_CPUID)\n";
        write(2, message, sizeof message - 1);
        _exit(3);
    }
}
