// dlopen through /proc/<pid>/fd, with a check that the object was really mapped by the call; the build id.
#include "plugin_host/loaded_object.hpp"

#include <cstring>
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <sys/stat.h>
#include <utility>
#include <vector>

namespace ringd::plugin_host {

namespace {

// A name can be taken only by an object that outlived a descriptor number; each attempt gets a new number.
// Two attempts succeed in practice (the file, then its memory copy); the bound only stops a pathological loop.
constexpr int max_load_attempts = 8;

const link_map* link_map_of(void* handle)
{
    link_map* map = nullptr;
    if (::dlinfo(handle, RTLD_DI_LINKMAP, &map) != 0) return nullptr;
    return map;
}

// True when dlopen() mapped the object under `name` just now, false when it returned another object it already
// had (same inode, or `name` left on it by an earlier load).
bool mapped_under(void* handle, const std::string& name)
{
    const link_map* map = link_map_of(handle);
    return map != nullptr && map->l_name != nullptr && name == map->l_name;
}

// dlerror() speaks of "/proc/<pid>/fd/N: ..."; the reader wants the file.
std::string dl_error_for(const std::filesystem::path& path, const std::string& name)
{
    const char* raw = ::dlerror();
    std::string why = raw != nullptr ? raw : "dlopen failed";
    if (why.starts_with(name + ": ")) why.erase(0, name.size() + 2);
    for (std::size_t at; (at = why.find(name)) != std::string::npos;)
        why.replace(at, name.size(), path.string());
    return why;
}

std::size_t round_up(std::size_t n, std::size_t align)
{
    return (n + align - 1) / align * align;
}

std::string build_id_of(void* handle)
{
    struct Search {
        const link_map* map;
        std::string id;
    } search{link_map_of(handle), {}};
    if (search.map == nullptr) return "none";
    // The link map has the load address and name but not the program headers; dl_iterate_phdr has both.
    ::dl_iterate_phdr(
        [](dl_phdr_info* info, std::size_t, void* data) {
            auto& s = *static_cast<Search*>(data);
            if (info->dlpi_addr != s.map->l_addr || info->dlpi_name == nullptr || s.map->l_name == nullptr ||
                std::strcmp(info->dlpi_name, s.map->l_name) != 0) {
                return 0;
            }
            for (int i = 0; i < info->dlpi_phnum && s.id.empty(); ++i) {
                const ElfW(Phdr)& ph = info->dlpi_phdr[i];
                if (ph.p_type != PT_NOTE) continue;
                const auto* notes = reinterpret_cast<const unsigned char*>(info->dlpi_addr + ph.p_vaddr);
                s.id = build_id_in_notes(notes, ph.p_memsz, ph.p_align);
            }
            return 1;
        },
        &search);
    return search.id.empty() ? "none" : search.id;
}

} // namespace

std::string build_id_in_notes(const unsigned char* notes, std::size_t size, std::size_t align)
{
    // Notes are padded to 4 bytes, or 8 in a segment aligned to 8 (e.g. .note.gnu.property).
    align = align == 8 ? 8 : 4;
    for (std::size_t at = 0; at + sizeof(ElfW(Nhdr)) <= size;) {
        ElfW(Nhdr) header;
        std::memcpy(&header, notes + at, sizeof header);
        const std::size_t name_at = at + sizeof header;
        const std::size_t desc_at = name_at + round_up(header.n_namesz, align);
        if (desc_at > size || header.n_descsz > size - desc_at) break; // truncated: not a note we can read
        if (header.n_type == NT_GNU_BUILD_ID && header.n_namesz == 4 && std::memcmp(notes + name_at, "GNU", 4) == 0) {
            std::string hex;
            for (std::size_t i = 0; i < header.n_descsz; ++i) {
                static constexpr char digits[] = "0123456789abcdef";
                hex += digits[notes[desc_at + i] >> 4];
                hex += digits[notes[desc_at + i] & 0xf];
            }
            return hex;
        }
        at = desc_at + round_up(header.n_descsz, align);
    }
    return {};
}

LoadedObject::LoadedObject(PluginFile file, std::string name, void* handle)
    : file_(std::move(file)), name_(std::move(name)), handle_(handle), build_id_(build_id_of(handle))
{
}

LoadedObject::LoadedObject(LoadedObject&& other) noexcept
    : file_(std::move(other.file_)), name_(std::move(other.name_)), handle_(std::exchange(other.handle_, nullptr)),
      build_id_(std::move(other.build_id_))
{
}

LoadedObject::~LoadedObject()
{
    (void)unload();
}

LoadedObject LoadedObject::open(PluginFile file)
{
    std::vector<UniqueFd> tried; // descriptors of names already tried stay open, so each try gets a new number
    for (int attempt = 0; attempt < max_load_attempts; ++attempt) {
        std::string name = file.proc_name();
        // RTLD_NOW: an unresolved symbol fails here, at start, not later inside a worker.
        // RTLD_LOCAL: one plugin's symbols never satisfy or clash with another's.
        void* handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
        if (handle == nullptr)
            throw PluginLoadError("cannot load plugin " + file.path().string() + ": " +
                                  dl_error_for(file.path(), name));
        if (mapped_under(handle, name)) return LoadedObject(std::move(file), std::move(name), handle);
        ::dlclose(handle);
        if (!file.is_memory_copy()) {
            file = file.copy_to_memory(); // a new inode; created while the file is open, so a new number too
        } else {
            tried.push_back(file.renumber());
        }
    }
    throw PluginLoadError("cannot load plugin " + file.path().string() +
                          ": the dynamic linker kept returning another object for it");
}

void* LoadedObject::symbol(const char* name) const
{
    return ::dlsym(handle_, name);
}

bool LoadedObject::unload() noexcept
{
    if (handle_ == nullptr) return true;
    ::dlclose(std::exchange(handle_, nullptr));
    void* still_loaded = ::dlopen(name_.c_str(), RTLD_LAZY | RTLD_NOLOAD);
    if (still_loaded == nullptr) {
        (void)::dlerror(); // NOLOAD of an unloaded name leaves an error message behind
        return true;
    }
    ::dlclose(still_loaded);
    (void)file_.release_fd(); // intentionally never closed: see the declaration
    return false;
}

bool LoadedObject::file_rewritten() const noexcept
{
    if (file_.is_memory_copy() || file_.fd() < 0) return false;
    struct stat now {};
    if (::fstat(file_.fd(), &now) != 0) return false;
    const FileIdentity& loaded = file_.identity();
    return now.st_size != loaded.size || now.st_mtim.tv_sec != loaded.mtime.tv_sec ||
           now.st_mtim.tv_nsec != loaded.mtime.tv_nsec;
}

void LoadedObject::abandon() noexcept
{
    handle_ = nullptr;        // intentionally never closed: see the declaration
    (void)file_.release_fd(); // and its name stays taken
}

} // namespace ringd::plugin_host
