// Loading a plugin file so that a rebuilt .so is a new object: PluginFile (open, identify, copy to memory),
// LoadedObject (dlopen through /proc/<pid>/fd, a private copy when the inode is taken, unloading), build ids.
#include "plugin_host/loaded_object.hpp"
#include "plugin_host/plugin.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <elf.h>
#include <fcntl.h>
#include <fstream>
#include <iterator>
#include <sys/stat.h>
#include <unistd.h>

using namespace ringd::plugin_host;
namespace fs = std::filesystem;

namespace {

std::string plugin(const char* name)
{
    return std::string(RINGD_TEST_PLUGIN_DIR) + "/" + name + ".so";
}

struct TempDir {
    fs::path path;
    TempDir()
    {
        std::string pattern = (fs::temp_directory_path() / "ringd-plugin-file-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ~TempDir() { fs::remove_all(path); }
};

std::string contents(const fs::path& path)
{
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// What cp(1) does to an existing destination: same inode, new bytes.
void overwrite_in_place(const fs::path& from, const fs::path& to)
{
    const std::string bytes = contents(from);
    std::ofstream out(to, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

// Writes the file's own bytes over it again, in place and without truncating: a new mtime, the same contents.
void rewrite_without_truncating(const fs::path& path)
{
    const std::string bytes = contents(path);
    std::fstream out(path, std::ios::binary | std::ios::in | std::ios::out);
    out.write(bytes.data(), std::streamsize(bytes.size()));
}

// What install(1) or mv does: a new inode at the same path.
void replace_with_new_inode(const fs::path& from, const fs::path& to)
{
    const fs::path staged = to.string() + ".new";
    fs::copy_file(from, staged, fs::copy_options::overwrite_existing);
    fs::rename(staged, to);
}

bool mapped(const std::string& needle)
{
    return contents("/proc/self/maps").find(needle) != std::string::npos;
}

// A host table whose send() appends to the std::string the connection handle points at.
const ringd_host* recording_host()
{
    static const ringd_host host = [] {
        ringd_host h{};
        h.abi_version = RINGD_PLUGIN_ABI_VERSION;
        h.struct_size = sizeof h;
        h.send = [](ringd_conn* conn, const void* data, size_t len) {
            reinterpret_cast<std::string*>(conn)->append(static_cast<const char*>(data), len);
            return 0;
        };
        return h;
    }();
    return &host;
}

// Which build answered: which-build's on_data reply ("one instance 1\n") for an instance of `lib`.
std::string ask(const std::shared_ptr<PluginLibrary>& lib)
{
    auto instance = PluginInstance::create(lib, InstanceSpec{"probe", "{}", RINGD_KIND_STREAM, 1, recording_host()});
    std::string sent;
    lib->descriptor().on_data(instance->instance(), reinterpret_cast<ringd_conn*>(&sent),
                              reinterpret_cast<const uint8_t*>("?"), 1);
    return sent;
}

} // namespace

TEST_CASE("PluginFile identifies the inode it opened", "[sdk][loading]")
{
    TempDir dir;
    const fs::path so = dir.path / "which-build.so";
    fs::copy_file(plugin("which-build-one"), so);
    const PluginFile file = PluginFile::open(so);
    struct stat st {};
    REQUIRE(::stat(so.c_str(), &st) == 0);
    CHECK(file.identity().inode == st.st_ino);
    CHECK(file.identity().device == st.st_dev);
    CHECK(file.identity().size == st.st_size);
    CHECK(file.path() == so);
    CHECK(file.proc_name() == "/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(file.fd()));
    CHECK_FALSE(file.is_memory_copy());

    SECTION("a new inode at the path is another file, a rewrite in place another version of the same one")
    {
        replace_with_new_inode(plugin("which-build-two"), so);
        const PluginFile replaced = PluginFile::open(so);
        CHECK_FALSE(replaced.identity().same_inode(file.identity()));
        ::usleep(20'000); // past the file system's timestamp granularity
        overwrite_in_place(plugin("which-build-one"), so);
        const PluginFile rewritten = PluginFile::open(so);
        CHECK(rewritten.identity().same_inode(replaced.identity()));
        CHECK_FALSE(rewritten.identity().same_version(replaced.identity()));
        CHECK(PluginFile::open(so).identity().same_version(rewritten.identity()));
    }
    SECTION("a memory copy has the bytes, the path and the identity of the original, under another name")
    {
        const PluginFile copy = file.copy_to_memory();
        CHECK(copy.is_memory_copy());
        CHECK(copy.path() == so);
        CHECK(copy.identity().same_version(file.identity()));
        CHECK(copy.proc_name() != file.proc_name());
        CHECK(contents(copy.proc_name()) == contents(so));
    }
}

TEST_CASE("PluginFile refuses what is not a regular file, naming it", "[sdk][loading]")
{
    TempDir dir;
    CHECK_THROWS_WITH(PluginFile::open(dir.path), "cannot load plugin " + dir.path.string() + ": not a regular file");
    const fs::path fifo = dir.path / "fifo.so";
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    CHECK_THROWS_WITH(PluginFile::open(fifo), "cannot load plugin " + fifo.string() + ": not a regular file");
    const fs::path missing = dir.path / "missing.so";
    CHECK_THROWS_WITH(PluginFile::open(missing),
                      "cannot load plugin " + missing.string() + ": No such file or directory");
}

TEST_CASE("format_mtime is UTC with nanoseconds", "[sdk][loading]")
{
    CHECK(format_mtime(timespec{0, 5}) == "1970-01-01T00:00:00.000000005Z");
    CHECK(format_mtime(timespec{1795000000, 123456789}) == "2026-11-18T11:06:40.123456789Z");
}

TEST_CASE("build_id_in_notes finds the GNU build id among other notes", "[sdk][loading]")
{
    // An NT_GNU_ABI_TAG note, then the build id; 4-byte alignment.
    std::vector<unsigned char> notes;
    auto add = [&](uint32_t type, const char* name, std::vector<unsigned char> desc) {
        const uint32_t header[3] = {uint32_t(std::strlen(name) + 1), uint32_t(desc.size()), type};
        notes.insert(notes.end(), reinterpret_cast<const unsigned char*>(header),
                     reinterpret_cast<const unsigned char*>(header) + sizeof header);
        notes.insert(notes.end(), name, name + std::strlen(name) + 1);
        notes.resize((notes.size() + 3) / 4 * 4);
        notes.insert(notes.end(), desc.begin(), desc.end());
        notes.resize((notes.size() + 3) / 4 * 4);
    };
    add(NT_GNU_ABI_TAG, "GNU", {0, 0, 0, 0, 3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0});
    add(NT_GNU_BUILD_ID, "GNU", {0xde, 0xad, 0xbe, 0xef, 0x01});
    CHECK(build_id_in_notes(notes.data(), notes.size(), 4) == "deadbeef01");
    SECTION("a build id under another owner's name is not one")
    {
        notes[16 + 16 + 12] = 'X';
    }
    SECTION("a truncated segment yields nothing, without reading past it")
    {
        notes.resize(notes.size() - 4);
    }
    CHECK(build_id_in_notes(notes.data(), notes.size(), 4).empty());
}

TEST_CASE("the loaded object is mapped from the opened file, with the build id the linker wrote", "[sdk][loading]")
{
    const LoadedObject one = LoadedObject::open(PluginFile::open(plugin("which-build-one")));
    const LoadedObject two = LoadedObject::open(PluginFile::open(plugin("which-build-two")));
    CHECK(one.mapped_as() == one.file().proc_name());
    CHECK_FALSE(one.file().is_memory_copy());
    CHECK(one.build_id().size() >= 16); // sha1 (40 hex digits) by default; anything real is long
    CHECK(one.build_id().find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(one.build_id() != two.build_id());
    CHECK(one.symbol(RINGD_PLUGIN_ENTRY_SYMBOL) != two.symbol(RINGD_PLUGIN_ENTRY_SYMBOL));
}

TEST_CASE("dlopen errors name the file, not /proc/<pid>/fd", "[sdk][loading]")
{
    const std::string not_elf = std::string(RINGD_TEST_PLUGIN_DIR) + "/../CMakeCache.txt";
    try {
        (void)LoadedObject::open(PluginFile::open(not_elf));
        FAIL("a text file loaded");
    } catch (const PluginLoadError& e) {
        const std::string what = e.what();
        CHECK_THAT(what, Catch::StartsWith("cannot load plugin " + not_elf + ": "));
        CHECK_THAT(what, !Catch::Contains("/fd/"));
    }
}

TEST_CASE("a replaced plugin file loads as a new object beside the old one", "[sdk][loading]")
{
    TempDir dir;
    const fs::path so = dir.path / "which-build.so";
    fs::copy_file(plugin("which-build-one"), so);
    auto old_build = PluginLibrary::load(so);
    CHECK(ask(old_build) == "one instance 1\n");
    const std::string old_inode = " " + std::to_string(old_build->object()->file().identity().inode) + " ";

    replace_with_new_inode(plugin("which-build-two"), so);
    CHECK_FALSE(old_build->overwritten()); // its file is unlinked, not changed
    auto new_build = PluginLibrary::load(so);
    CHECK(ask(new_build) == "two instance 1\n");
    CHECK(ask(old_build) == "one instance 2\n"); // the old object, still mapped, with its own state
    CHECK_FALSE(new_build->object()->file().is_memory_copy());
    CHECK(new_build->path() == so);

    CHECK(mapped(old_inode));
    old_build.reset();
    CHECK_FALSE(mapped(old_inode));
    CHECK(ask(new_build) == "two instance 2\n");
}

TEST_CASE("a plugin file rewritten in place loads from a private copy", "[sdk][loading]")
{
    // glibc would hand back the object it already has for this inode (with the old descriptor and state). The
    // rewrite here keeps the bytes and only writes them again without truncating, so the old object stays
    // sound: after a real cp (O_TRUNC), even its relocated pages revert to the file's new bytes, and its
    // destructors would crash the process at exit (tests/sdk/test_replace_plugin.py runs that case in ringd).
    TempDir dir;
    const fs::path so = dir.path / "which-build.so";
    fs::copy_file(plugin("which-build-one"), so);
    auto old_build = PluginLibrary::load(so);
    CHECK(ask(old_build) == "one instance 1\n");
    CHECK_FALSE(old_build->overwritten());
    const std::string old_inode = " " + std::to_string(old_build->object()->file().identity().inode) + " ";

    ::usleep(20'000); // past the file system's timestamp granularity
    rewrite_without_truncating(so);
    CHECK(old_build->overwritten());
    auto new_build = PluginLibrary::load(so);
    CHECK(new_build->object()->file().is_memory_copy());
    CHECK(new_build->object()->file().identity().inode == old_build->object()->file().identity().inode);
    CHECK(ask(new_build) == "one instance 1\n"); // a fresh object: the old one would count instance 2
    CHECK_THAT(new_build->describe_build(), Catch::EndsWith(", private copy"));
    CHECK_FALSE(new_build->overwritten()); // the memory copy is the host's own
    CHECK(mapped("/memfd:ringd-plugin:which-build.so"));
    new_build.reset();
    CHECK_FALSE(mapped("/memfd:ringd-plugin:which-build.so"));

    // An overwritten build gets no dlclose (which would run its destructors): it stays mapped.
    old_build.reset();
    CHECK(mapped(old_inode));
}

TEST_CASE("the same file loaded twice at once gives two objects", "[sdk][loading]")
{
    auto first = PluginLibrary::load(plugin("which-build-one"));
    auto second = PluginLibrary::load(plugin("which-build-one"));
    CHECK(second->object()->file().is_memory_copy());
    CHECK(ask(first) == "one instance 1\n");
    CHECK(ask(second) == "one instance 1\n");
}

TEST_CASE("a library that cannot be unloaded keeps its name from ever reaching another file", "[sdk][loading]")
{
    // which-build-nodelete is linked with -z nodelete: dlclose leaves it mapped under "/proc/<pid>/fd/N". Were N
    // closed and reused for the next plugin file, dlopen would find the old object by that name.
    auto pinned = PluginLibrary::load(plugin("which-build-nodelete"));
    const std::string name = pinned->object()->mapped_as();
    const int fd = pinned->object()->file().fd();
    pinned.reset();
    CHECK(::fcntl(fd, F_GETFD) != -1); // still open
    auto next = PluginLibrary::load(plugin("which-build-one"));
    CHECK(next->object()->mapped_as() != name);
    CHECK(ask(next) == "one instance 1\n");
}
