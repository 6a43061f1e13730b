package io.fastpath.dpdk;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * What the kernel offers EAL in hugepages: the reserved and free pages of each size
 * ({@code /sys/kernel/mm/hugepages/hugepages-<N>kB/{nr,free}_hugepages}) and the hugetlbfs mounts
 * ({@code /proc/mounts}, {@code pagesize=} option, else the default {@code Hugepagesize} of
 * {@code /proc/meminfo}). EAL takes hugepage memory only from a size that has both free pages and a mount, which
 * is what {@link #usableBytes} counts; and only from a mount this user may create files in (a root-owned
 * {@code /dev/hugepages} is of no use to anyone else), so a mount counts only if it is writable.
 *
 * <p>Without {@code --huge-dir} EAL takes, for each page size, the first hugetlbfs of that size in /proc/mounts.
 * When one of those is not writable, a later writable mount is still usable, but only named with
 * {@code --huge-dir}: {@link #hugeDirFor} names it, and {@link #usableBytes usableBytes(null)} counts it.
 *
 * <p>Read once, before {@code rte_eal_init}; immutable. The paths are parameters so tests can describe any
 * machine.
 */
public record Hugepages(List<PageSize> sizes, List<Mount> mounts) {
    /** One hugepage size and its pool: {@code total} reserved (nr_hugepages), {@code free} of them unused. */
    public record PageSize(long bytes, long total, long free) {
    }

    /**
     * A hugetlbfs mount point, the page size its files are made of, and whether this user may create files in
     * it (EAL's hugepage files).
     */
    public record Mount(Path dir, long pageBytes, boolean writable) {
        /** A writable mount. */
        public Mount(Path dir, long pageBytes) {
            this(dir, pageBytes, true);
        }
    }

    public Hugepages {
        sizes = List.copyOf(sizes);
        mounts = List.copyOf(mounts);
    }

    /** This machine's hugepages, as the kernel reports them now. */
    public static Hugepages probe() {
        return read(Path.of("/sys/kernel/mm/hugepages"), Path.of("/proc/mounts"), Path.of("/proc/meminfo"));
    }

    /**
     * Reads hugepage sizes below {@code sysHugepages}, hugetlbfs mounts from {@code mounts} (the format of
     * /proc/mounts) and the default page size from {@code meminfo}. Missing files mean "none". A mount is
     * writable if this process may write to its directory ({@link Files#isWritable}).
     */
    public static Hugepages read(Path sysHugepages, Path mounts, Path meminfo) {
        return read(sysHugepages, mounts, meminfo, Files::isWritable);
    }

    /** As {@link #read(Path, Path, Path)}, with {@code writable} telling which mount directories this user may use. */
    public static Hugepages read(Path sysHugepages, Path mounts, Path meminfo, Predicate<Path> writable) {
        List<PageSize> sizes = new ArrayList<>();
        if (Files.isDirectory(sysHugepages)) {
            try (Stream<Path> dirs = Files.list(sysHugepages)) {
                for (Path dir : dirs.sorted().toList()) {
                    String name = dir.getFileName().toString();
                    if (name.startsWith("hugepages-") && name.endsWith("kB")) {
                        long kb = Long.parseLong(name.substring("hugepages-".length(), name.length() - 2));
                        sizes.add(new PageSize(kb << 10, readLong(dir.resolve("nr_hugepages")),
                            readLong(dir.resolve("free_hugepages"))));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        sizes.sort(Comparator.comparingLong(PageSize::bytes));
        long defaultPage = defaultPageBytes(meminfo);
        List<Mount> found = new ArrayList<>();
        for (String line : lines(mounts)) {
            String[] f = line.split(" ");
            if (f.length >= 4 && f[2].equals("hugetlbfs")) {
                long page = defaultPage;
                for (String option : f[3].split(",")) {
                    if (option.startsWith("pagesize=")) {
                        page = parseSize(option.substring("pagesize=".length()));
                    }
                }
                Path dir = Path.of(unescape(f[1]));
                found.add(new Mount(dir, page, writable.test(dir)));
            }
        }
        return new Hugepages(sizes, found);
    }

    /** The pool of pages of {@code bytes}, or null if the kernel has no such size. */
    public PageSize size(long bytes) {
        for (PageSize s : sizes) {
            if (s.bytes() == bytes) {
                return s;
            }
        }
        return null;
    }

    /** The hugetlbfs mounted at {@code dir}, or null if none is. */
    public Mount mountAt(Path dir) {
        Path want = dir.toAbsolutePath().normalize();
        for (Mount m : mounts) {
            if (m.dir().toAbsolutePath().normalize().equals(want)) {
                return m;
            }
        }
        return null;
    }

    /**
     * Bytes of free hugepages EAL can map: of the mount at {@code hugeDir}'s size if given (and writable), else of
     * every size with a hugetlbfs mounted, as EAL picks them (the first mount of each size); if one of EAL's picks
     * is not writable, of the mount {@link #hugeDirFor} names instead.
     */
    public long usableBytes(Path hugeDir) {
        if (hugeDir == null) {
            Path instead = hugeDirFor();
            if (instead != null) {
                return usableBytes(instead);
            }
        }
        long total = 0;
        for (PageSize s : sizes) {
            if (usable(s, hugeDir)) {
                total += s.free() * s.bytes();
            }
        }
        return total;
    }

    private boolean usable(PageSize s, Path hugeDir) {
        if (hugeDir != null) {
            Mount m = mountAt(hugeDir);
            return m != null && m.writable() && m.pageBytes() == s.bytes();
        }
        Mount m = ealPick(s.bytes());
        return m != null && m.writable();
    }

    /** The mount EAL takes pages of {@code pageBytes} from without --huge-dir: the first of that size. */
    private Mount ealPick(long pageBytes) {
        for (Mount m : mounts) {
            if (m.pageBytes() == pageBytes) {
                return m;
            }
        }
        return null;
    }

    /**
     * The hugetlbfs to name with {@code --huge-dir} when EAL's own pick would not do, or null when it would (or
     * when no writable mount has free pages). EAL's pick fails when, for a size with free pages, the first mount
     * of that size is not writable: EAL would try to make its page files there. Then this is the writable mount
     * with the most free bytes of its size (the first of equals).
     */
    public Path hugeDirFor() {
        boolean picksWritable = true;
        for (PageSize s : sizes) {
            Mount m = ealPick(s.bytes());
            if (s.free() > 0 && m != null && !m.writable()) {
                picksWritable = false;
            }
        }
        if (picksWritable) {
            return null;
        }
        Mount best = null;
        long bestBytes = 0;
        for (Mount m : mounts) {
            PageSize s = size(m.pageBytes());
            long bytes = s == null ? 0 : s.free() * s.bytes();
            if (m.writable() && bytes > bestBytes) {
                best = m;
                bestBytes = bytes;
            }
        }
        return best == null ? null : best.dir();
    }

    /**
     * Why EAL could not run on hugepages of at least {@code neededBytes}, in a user's words, or null if it can.
     */
    public String shortfall(Path hugeDir, long neededBytes) {
        long free = 0;
        for (PageSize s : sizes) {
            free += s.free() * s.bytes();
        }
        if (sizes.isEmpty() || free == 0) {
            return "no free hugepages (" + (sizes.isEmpty() ? "the kernel offers none"
                : "vm.nr_hugepages " + describePools()) + ")";
        }
        if (hugeDir != null && mountAt(hugeDir) == null) {
            return "no hugetlbfs mounted at " + hugeDir;
        }
        if (hugeDir != null && !mountAt(hugeDir).writable()) {
            return "the hugetlbfs at " + hugeDir + " is not writable by this user";
        }
        if (hugeDir == null && mounts.isEmpty()) {
            return "no hugetlbfs mounted (free hugepages: " + describePools() + ")";
        }
        if (hugeDir == null && mounts.stream().noneMatch(Mount::writable)) {
            return "no hugetlbfs writable by this user (mounts: " + describeMounts() + ")";
        }
        long usable = usableBytes(hugeDir);
        if (usable == 0) {
            return "no free hugepages of the mounted size (free: " + describePools() + ", mounts: " + describeMounts()
                + ")";
        }
        if (usable < neededBytes) {
            return "only " + mib(usable) + " MiB of hugepages free and mounted, " + mib(neededBytes) + " MiB needed";
        }
        return null;
    }

    /** {@code 2 MiB x 256 free of 256}, one entry per size. */
    public String describePools() {
        if (sizes.isEmpty()) {
            return "none";
        }
        List<String> parts = new ArrayList<>();
        for (PageSize s : sizes) {
            parts.add(pageSize(s.bytes()) + " x " + s.free() + " free of " + s.total());
        }
        return String.join(", ", parts);
    }

    /**
     * {@code /dev/hugepages (2 MiB)}, one entry per mount; {@code (2 MiB, not writable)} for one this user cannot
     * use.
     */
    public String describeMounts() {
        if (mounts.isEmpty()) {
            return "none";
        }
        List<String> parts = new ArrayList<>();
        for (Mount m : mounts) {
            parts.add(m.dir() + " (" + pageSize(m.pageBytes()) + (m.writable() ? "" : ", not writable") + ")");
        }
        return String.join(", ", parts);
    }

    static String pageSize(long bytes) {
        if (bytes >= 1L << 30 && bytes % (1L << 30) == 0) {
            return (bytes >> 30) + " GiB";
        }
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) {
            return (bytes >> 20) + " MiB";
        }
        return (bytes >> 10) + " KiB";
    }

    static long mib(long bytes) {
        return bytes >> 20;
    }

    /** {@code 2M}, {@code 1G}, {@code 2048k}, {@code 2097152}: the forms hugetlbfs's pagesize= takes. */
    static long parseSize(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        long unit = 1;
        char last = t.charAt(t.length() - 1);
        if (last == 'k' || last == 'm' || last == 'g') {
            unit = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
            t = t.substring(0, t.length() - 1);
        }
        return Long.parseLong(t) * unit;
    }

    private static long defaultPageBytes(Path meminfo) {
        for (String line : lines(meminfo)) {
            if (line.startsWith("Hugepagesize:")) {
                String[] f = line.substring("Hugepagesize:".length()).trim().split("\\s+");
                return Long.parseLong(f[0]) << 10; // always kB
            }
        }
        return 2L << 20;
    }

    /** /proc/mounts writes space, tab, newline and backslash as octal escapes (\040). */
    static String unescape(String field) {
        if (field.indexOf('\\') < 0) {
            return field;
        }
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < field.length(); i++) {
            char c = field.charAt(i);
            if (c == '\\' && i + 3 < field.length()) {
                sb.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static long readLong(Path file) {
        List<String> l = lines(file);
        return l.isEmpty() ? 0 : Long.parseLong(l.get(0).trim());
    }

    private static List<String> lines(Path file) {
        try {
            return Files.exists(file) ? Files.readAllLines(file, StandardCharsets.UTF_8) : List.of();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
