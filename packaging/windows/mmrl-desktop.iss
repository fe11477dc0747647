; Inno Setup 6 script: packages the PyInstaller onedir folder into mmrl-desktop-<version>-setup.exe
; with a Start-menu shortcut, an optional desktop icon and an uninstaller.
;
; Build the bundle first (packaging\dist\mmrl-desktop\mmrl-desktop.exe), then, from the repository root:
;   "C:\Program Files (x86)\Inno Setup 6\ISCC.exe" packaging\windows\mmrl-desktop.iss
; The version is pyproject.toml's: the spec writes it to packaging\dist\mmrl-desktop-version.txt.
; Another one: ISCC.exe /DAppVersion=0.2.0 packaging\windows\mmrl-desktop.iss
; Output: packaging\dist\installer\mmrl-desktop-<version>-setup.exe
;
; The installer writes only below {autopf}\mmrl-desktop (or the user's Programs folder when run without
; admin rights). Projects, settings and the demo project live in the user's data folder (platformdirs:
; %LOCALAPPDATA%\mmrl-desktop) and are NOT removed by the uninstaller: they are the user's work.

#ifndef AppVersion
  #define VersionFile FileOpen(AddBackslash(SourcePath) + "..\dist\mmrl-desktop-version.txt")
  #if !VersionFile
    #error packaging\dist\mmrl-desktop-version.txt is missing: build the bundle first
  #endif
  #define AppVersion Trim(FileRead(VersionFile))
  #expr FileClose(VersionFile)
#endif
#define AppName "mmrl-desktop"
#define AppExe "mmrl-desktop.exe"
#define BundleDir "..\dist\mmrl-desktop"

[Setup]
; A fixed AppId keeps upgrades and the uninstaller entry together; never change it.
AppId={{6C1F7B0E-4E7B-4C55-9C5E-2B1D6A7D3F10}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=mmrl-desktop contributors
AppComments=Teach a multimodal model with thumbs, offline.
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=..\dist\installer
OutputBaseFilename={#AppName}-{#AppVersion}-setup
SetupIconFile=mmrl-desktop.ico
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName} {#AppVersion}
; torch makes the bundle large: lzma2 solid compression in a single file (no disk spanning).
Compression=lzma2/max
SolidCompression=yes
LZMAUseSeparateProcess=yes
DiskSpanning=no
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole onedir folder: mmrl-desktop.exe plus _internal\ (Python, Qt, torch, resources).
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the bundle's libraries wholesale, so stale DLLs of an older torch/Qt never mix in.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExe}"; Comment: "Teach a multimodal model with thumbs"
Name: "{autoprograms}\{#AppName} self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\{#AppExe}"" self-test"; WorkingDir: "{app}"; Comment: "Check this installation (torch, model, DICOM, audio, Qt)"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the app itself may have left inside its install folder (e.g. __pycache__); never user data.
Type: filesandordirs; Name: "{app}\_internal"
