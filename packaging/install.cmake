# cmake --install: the layout the Debian package installs (scripts/package, packaging/debian/),
# under any prefix (default /usr/local; the package: /usr). Included by the top CMakeLists.txt.
#
#   PREFIX/bin/webim-broadcast, webim-frontend
#   PREFIX/lib/systemd/system/   webim-broadcast.service, webim-frontend@.service, webim.target
#   PREFIX/lib/sysusers.d/webim.conf, tmpfiles.d/webim.conf, sysctl.d/90-webim.conf
#   PREFIX/share/webim/demo/     the demo page, served at / by the example frontend config
#   PREFIX/share/webim/js/       the JS client (webim.js, webim.d.ts), served at /js/
#   PREFIX/share/php/Webim/      the PHP library: require 'Webim/autoload.php' (PHP's include_path
#                                has /usr/share/php on Debian)
#   PREFIX/share/doc/webim/examples/  nginx-webim.conf
#   /etc/webim/                  webim-broadcast.toml, webim-frontend.toml (only if absent: an
#                                edited config is never overwritten; the package's are conffiles)
#   /etc/security/limits.d/90-webim.conf (only if absent)
#
# The units and the frontend config in deploy/ name the default prefix (/usr/local/bin/webim-*,
# /usr/local/share/webim); the installed copies name the install prefix (cmake --install --prefix
# wins over CMAKE_INSTALL_PREFIX, so the paths are rewritten at install time, not at configure time).
# Secrets and keys are not installed: the package's postinst makes them (docs/deploy.md "Install").

install(TARGETS webim-broadcast webim-frontend RUNTIME DESTINATION bin)

set(_webim_deploy ${PROJECT_SOURCE_DIR}/deploy)
set(_webim_gen ${PROJECT_BINARY_DIR}/install-gen)

install(FILES ${_webim_deploy}/sysusers.d/webim.conf DESTINATION lib/sysusers.d)
install(FILES ${_webim_deploy}/tmpfiles.d/webim.conf DESTINATION lib/tmpfiles.d)
install(FILES ${_webim_deploy}/sysctl.d/90-webim.conf DESTINATION lib/sysctl.d)

install(FILES ${PROJECT_SOURCE_DIR}/clients/demo/index.html ${PROJECT_SOURCE_DIR}/clients/demo/app.js
              ${PROJECT_SOURCE_DIR}/clients/demo/style.css
        DESTINATION share/webim/demo)
install(FILES ${PROJECT_SOURCE_DIR}/clients/js/webim.js ${PROJECT_SOURCE_DIR}/clients/js/webim.d.ts
              ${PROJECT_SOURCE_DIR}/clients/js/README.md ${PROJECT_SOURCE_DIR}/clients/js/package.json
        DESTINATION share/webim/js)
install(FILES ${PROJECT_SOURCE_DIR}/clients/php/autoload.php ${PROJECT_SOURCE_DIR}/clients/php/composer.json
              ${PROJECT_SOURCE_DIR}/clients/php/README.md
        DESTINATION share/php/Webim)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/clients/php/src/ DESTINATION share/php/Webim/src FILES_MATCHING PATTERN "*.php")
install(FILES ${_webim_deploy}/nginx-webim.conf DESTINATION share/doc/webim/examples)

# At install time: the units and the frontend config with the prefix's paths, written to a directory
# of their own per (DESTDIR, prefix), so installs to different places can run at once; then the
# configuration under /etc whatever the prefix (the units name /etc/webim), never over an edited one.
install(CODE "
  string(MD5 _key \"\$ENV{DESTDIR}|\${CMAKE_INSTALL_PREFIX}\")
  set(_gen \"${_webim_gen}/\${_key}\")
  foreach(_f webim-broadcast.service webim-frontend@.service webim.target webim-frontend.toml)
    file(READ \"${_webim_deploy}/\${_f}\" _text)
    string(REPLACE \"/usr/local/bin/webim-\" \"\${CMAKE_INSTALL_PREFIX}/bin/webim-\" _text \"\${_text}\")
    string(REPLACE \"/usr/local/share/webim/\" \"\${CMAKE_INSTALL_PREFIX}/share/webim/\" _text \"\${_text}\")
    file(WRITE \"\${_gen}/\${_f}\" \"\${_text}\")
  endforeach()
  file(INSTALL \"\${_gen}/webim-broadcast.service\" \"\${_gen}/webim-frontend@.service\" \"\${_gen}/webim.target\"
       DESTINATION \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\"
       FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  function(_webim_install_new src dir)
    get_filename_component(_name \"\${src}\" NAME)
    if(EXISTS \"\$ENV{DESTDIR}\${dir}/\${_name}\")
      message(STATUS \"Kept (exists): \$ENV{DESTDIR}\${dir}/\${_name}\")
    else()
      file(INSTALL \"\${src}\" DESTINATION \"\${dir}\"
           FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
    endif()
  endfunction()
  _webim_install_new(\"${_webim_deploy}/webim-broadcast.toml\" /etc/webim)
  _webim_install_new(\"\${_gen}/webim-frontend.toml\" /etc/webim)
  _webim_install_new(\"${_webim_deploy}/limits.d/90-webim.conf\" /etc/security/limits.d)
")
