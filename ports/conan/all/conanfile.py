import os

from conan import ConanFile
from conan.errors import ConanInvalidConfiguration
from conan.tools.cmake import CMake, CMakeDeps, CMakeToolchain, cmake_layout
from conan.tools.files import copy, get, rmdir
from conan.tools.microsoft import check_min_vs, is_msvc

required_conan_version = ">=2.0"


class MprocConan(ConanFile):
    name = "mproc"
    description = ("Python's multiprocessing for C: Process, Pool, Pipe, "
                   "Queue, shared memory and locks on POSIX and Windows")
    license = "MIT"
    url = "https://github.com/conan-io/conan-center-index"
    homepage = "https://github.com/mproc/mproc"
    topics = ("multiprocessing", "ipc", "process", "shared-memory", "pool")
    package_type = "library"
    settings = "os", "arch", "compiler", "build_type"
    options = {
        "shared": [True, False],
        "fPIC": [True, False],
    }
    default_options = {
        "shared": False,
        "fPIC": True,
    }

    def config_options(self):
        if self.settings.os == "Windows":
            del self.options.fPIC

    def configure(self):
        if self.options.shared:
            self.options.rm_safe("fPIC")
        self.settings.rm_safe("compiler.cppstd")
        self.settings.rm_safe("compiler.libcxx")

    def layout(self):
        cmake_layout(self, src_folder="src")

    def requirements(self):
        self.requires("apr/1.7.4")
        if self.settings.os != "Windows":
            self.requires("openssl/[>=1.1 <4]")

    def validate(self):
        # The POSIX backend is tested on Linux, the Windows one with MSVC and
        # mingw-w64; other systems (macOS, the BSDs) are not ported yet.
        if self.settings.os not in ("Linux", "Windows"):
            raise ConanInvalidConfiguration(
                f"{self.ref} supports Linux and Windows only")
        if self.settings.os == "Windows" and not is_msvc(self) \
                and self.settings.compiler != "gcc":
            raise ConanInvalidConfiguration(
                f"{self.ref} on Windows needs MSVC or mingw-w64 gcc")
        if is_msvc(self):
            # C11 (designated initializers, _Static_assert, stdatomic.h).
            check_min_vs(self, "193")

    def build_requirements(self):
        self.tool_requires("cmake/[>=3.25 <4]")

    def source(self):
        get(self, **self.conan_data["sources"][self.version], strip_root=True)

    def generate(self):
        tc = CMakeToolchain(self)
        tc.cache_variables["BUILD_TESTING"] = False
        tc.cache_variables["MPROC_BUILD_EXAMPLES"] = False
        tc.cache_variables["MPROC_BUILD_BENCH"] = False
        tc.cache_variables["MPROC_WERROR"] = False
        tc.generate()
        CMakeDeps(self).generate()

    def build(self):
        cmake = CMake(self)
        cmake.configure()
        cmake.build()

    def package(self):
        copy(self, "LICENSE", self.source_folder,
             os.path.join(self.package_folder, "licenses"))
        cmake = CMake(self)
        cmake.install()
        rmdir(self, os.path.join(self.package_folder, "lib", "cmake"))
        rmdir(self, os.path.join(self.package_folder, "lib", "pkgconfig"))
        rmdir(self, os.path.join(self.package_folder, "share"))

    def package_info(self):
        self.cpp_info.set_property("cmake_file_name", "mproc")
        self.cpp_info.set_property("cmake_target_name", "mproc::mproc")
        self.cpp_info.set_property("pkg_config_name", "mproc")
        self.cpp_info.libs = ["mproc"]
        # mproc/config.h says whether the library is static: no defines.
        if self.settings.os == "Linux":
            self.cpp_info.system_libs = ["pthread", "dl", "rt"]
        elif self.settings.os == "Windows":
            self.cpp_info.system_libs = ["ws2_32", "bcrypt", "advapi32"]
