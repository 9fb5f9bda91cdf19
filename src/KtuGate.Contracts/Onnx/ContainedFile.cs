using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KtuGate.Onnx;

/// <summary>Opens files a model refers to (its external data) only where they are plain files inside the model's folder.</summary>
/// <remarks>
/// The rules follow ONNX's own guidance for external data: a relative, canonical location inside the model's folder, no symbolic
/// link on the way, a regular file (never a FIFO, device or folder, which could hang or leak a read) and one name only (a hard link
/// would let a model read a file it does not own). The final component is opened without following links and without blocking,
/// and the open handle itself is checked, so a file swapped after the check is still refused.
/// </remarks>
public static class ContainedFile
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint StatxBasicStats = 0x7ff;
    private const int SIfMt = 0xF000;
    private const int SIfReg = 0x8000;
    private const int SIfLnk = 0xA000;
    private const int SIfDir = 0x4000;
    private const int ONonBlock = 0x800;
    private const int OCloExec = 0x80000;

    /// <summary>Whether the C library's statx can be called (glibc 2.28 and later, musl 1.2.5 and later).</summary>
    private static readonly Lazy<bool> s_native = new(() =>
    {
        try
        {
            return Statx(AtFdCwd, "/", 0, StatxBasicStats, out _) == 0;
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return false;
        }
    });

    /// <summary>Why <paramref name="location"/> is not a canonical relative path inside a folder, or null when it is.</summary>
    public static string? LocationProblem(string location)
    {
        if (location.Length == 0)
        {
            return "the location is empty";
        }

        if (location.Contains('\0', StringComparison.Ordinal) || location.Contains('\\', StringComparison.Ordinal))
        {
            return "the location holds a NUL or a backslash";
        }

        if (Path.IsPathRooted(location) || location.StartsWith('/') || (location.Length > 1 && location[1] == ':'))
        {
            return "the location is an absolute path";
        }

        foreach (var part in location.Split('/'))
        {
            if (part is "" or "." or "..")
            {
                return part == ".." ? "the location leaves the model's folder" : "the location is not canonical (empty or '.' segments)";
            }
        }

        return null;
    }

    /// <summary>Opens <paramref name="location"/> inside <paramref name="folder"/> for reading, or says why it may not be read.</summary>
    /// <param name="folder">The model's folder (its full path).</param>
    /// <param name="location">A location that <see cref="LocationProblem"/> accepts.</param>
    /// <param name="problem">Why the file is refused, or null.</param>
    /// <returns>A stream positioned at 0, or null with <paramref name="problem"/>.</returns>
    public static FileStream? Open(string folder, string location, out string? problem)
    {
        problem = LocationProblem(location);
        if (problem is not null)
        {
            return null;
        }

        var root = Path.GetFullPath(folder);
        var parts = location.Split('/');
        var path = root;
        for (var i = 0; i < parts.Length - 1; i++)
        {
            path = Path.Combine(path, parts[i]);
            var kind = KindOf(path, followLinks: false);
            if (kind != SIfDir)
            {
                problem = kind == SIfLnk ? $"'{string.Join('/', parts[..(i + 1)])}' is a symbolic link" : kind == 0 ? $"'{string.Join('/', parts[..(i + 1)])}' does not exist" : $"'{string.Join('/', parts[..(i + 1)])}' is not a folder";
                return null;
            }
        }

        path = Path.Combine(path, parts[^1]);
        var full = Path.GetFullPath(path);
        if (!full.StartsWith(root.TrimEnd(Path.DirectorySeparatorChar) + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            problem = "the location leaves the model's folder";
            return null;
        }

        if (OperatingSystem.IsLinux() && !s_native.Value)
        {
            problem = "this system's C library offers no statx, so KtuGate cannot check that it is a plain file";
            return null;
        }

        return OperatingSystem.IsLinux() ? OpenLinux(full, out problem) : OpenPortable(full, out problem);
    }

    private static FileStream? OpenLinux(string path, out string? problem)
    {
        var kind = KindOf(path, followLinks: false);
        if (kind != SIfReg)
        {
            problem = Describe(kind);
            return null;
        }

        // O_NOFOLLOW refuses a link swapped in since.
        return OpenHandle(path, NoFollowFlag, long.MaxValue, singleName: true, out problem);
    }

    /// <summary>Opens a file without blocking and keeps it only when the open handle is a regular file (of one name, when asked) no longer than <paramref name="maxBytes"/>.</summary>
    private static FileStream? OpenHandle(string path, int extraFlags, long maxBytes, bool singleName, out string? problem)
    {
        // O_NONBLOCK keeps a FIFO (or one swapped in) from blocking the open; the handle's own type decides.
        var fd = NativeOpen(path, ONonBlock | OCloExec | extraFlags);
        if (fd < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            problem = errno switch
            {
                2 => "it does not exist",
                13 => "permission to read it is denied",
                _ => $"it cannot be opened (errno {errno})",
            };
            return null;
        }

        var handle = new SafeFileHandle(fd, ownsHandle: true);
        if (Statx(fd, string.Empty, AtEmptyPath, StatxBasicStats, out var status) != 0 || (status.Mode & SIfMt) != SIfReg)
        {
            handle.Dispose();
            problem = Describe(status.Mode & SIfMt);
            return null;
        }

        if (singleName && status.Links != 1)
        {
            handle.Dispose();
            problem = $"it has {status.Links} hard links; a weight file must have one name only";
            return null;
        }

        if (status.Size > (ulong)maxBytes)
        {
            handle.Dispose();
            problem = TooLarge(status.Size, maxBytes);
            return null;
        }

        problem = null;
        return new FileStream(handle, FileAccess.Read, bufferSize: 1 << 16);
    }

    /// <summary>
    /// Opens a file the user named or a glob matched (symbolic links followed: whoever chose the path vetted them) for reading, only when
    /// it is a regular file no longer than <paramref name="maxBytes"/>; a FIFO, device, socket or folder is refused and never blocks.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="maxBytes">The largest length accepted, judged from the open handle before anything is read.</param>
    /// <param name="problem">Why the file is refused, or null.</param>
    /// <returns>A stream positioned at 0, or null with <paramref name="problem"/>.</returns>
    public static FileStream? OpenRegular(string path, long maxBytes, out string? problem)
    {
        if (OperatingSystem.IsLinux() && s_native.Value)
        {
            return OpenHandle(Path.GetFullPath(path), 0, maxBytes, singleName: false, out problem);
        }

        var info = new FileInfo(path);
        if (!info.Exists || info.Attributes.HasFlag(FileAttributes.Directory) || info.Attributes.HasFlag(FileAttributes.Device))
        {
            problem = info.Exists || Directory.Exists(path) ? "it is not a regular file" : "it does not exist";
            return null;
        }

        if (info.Length > maxBytes)
        {
            problem = TooLarge((ulong)info.Length, maxBytes);
            return null;
        }

        problem = null;
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    private static string TooLarge(ulong size, long maxBytes)
        => string.Create(System.Globalization.CultureInfo.InvariantCulture, $"it is {size} bytes, more than the limit of {maxBytes} bytes; it was not read");

    private static FileStream? OpenPortable(string path, out string? problem)
    {
        var info = new FileInfo(path);
        if (!info.Exists || info.LinkTarget is not null || info.Attributes.HasFlag(FileAttributes.Directory) || info.Attributes.HasFlag(FileAttributes.Device))
        {
            problem = info.Exists ? "it is not a regular file" : "it does not exist";
            return null;
        }

        problem = null;
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    /// <summary>Why a file the user names (links followed) is not a regular file, or null when it is; never opens it, so a FIFO cannot hang the gate.</summary>
    public static string? NotRegularFile(string path)
    {
        var kind = KindOf(path, followLinks: true);
        return kind == SIfReg ? null : Describe(kind);
    }

    /// <summary>The file type bits of a path (0 when it does not exist).</summary>
    private static int KindOf(string path, bool followLinks)
    {
        if (!OperatingSystem.IsLinux() || !s_native.Value)
        {
            var info = new FileInfo(path);
            return !followLinks && info.LinkTarget is not null ? SIfLnk : Directory.Exists(path) ? SIfDir : info.Exists ? SIfReg : 0;
        }

        return Statx(AtFdCwd, path, followLinks ? 0 : AtSymlinkNoFollow, StatxBasicStats, out var status) == 0 ? status.Mode & SIfMt : 0;
    }

    private static string Describe(int kind) => kind switch
    {
        0 => "it does not exist",
        SIfLnk => "it is a symbolic link",
        SIfDir => "it is a folder",
        0x1000 => "it is a FIFO",
        0x2000 or 0x6000 => "it is a device",
        0xC000 => "it is a socket",
        _ => "it is not a regular file",
    };

    // O_NOFOLLOW's value differs between Linux architectures.
    private static int NoFollowFlag => RuntimeInformation.ProcessArchitecture is Architecture.Arm64 or Architecture.Arm ? 0x8000 : 0x20000;

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int NativeOpen([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags);

    [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
    private static extern int Statx(int directory, [MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, uint mask, out StatxBuffer buffer);

    /// <summary>The start of Linux's <c>struct statx</c> (its layout is the same on every architecture), padded to its full 256 bytes.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 256)]
    private struct StatxBuffer
    {
        [FieldOffset(16)]
        public uint Links;

        [FieldOffset(28)]
        public ushort Mode;

        [FieldOffset(40)]
        public ulong Size;
    }
}
